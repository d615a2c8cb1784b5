"""Checkpoints written in the background (tuitune.in_trial.keras_checkpoint), with real Keras
training and a real run store: the training thread never writes the file, every
file holds exactly the epoch it is named after even when the writer lags behind
training, a finished fit has its last save in the store, and a trial SIGKILLed at
each moment of a write leaves the store naming a complete, loadable checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from test_keras_callback import SPEC, At, enter_trial, fit, model, run_dir  # noqa: E402,F401

import tuitune.in_trial.keras as tk  # noqa: E402
import tuitune.in_trial.keras_checkpoint as kc  # noqa: E402
from tuitune.core.spec import load_spec  # noqa: E402
from tuitune.engine.runs import create_run, trial_dir  # noqa: E402
from tuitune.store import RunStore  # noqa: E402


def _weights(m: keras.Model) -> list[np.ndarray]:
    return [np.array(v) for v in [*m.weights, *m.optimizer.variables]]


def slow_save(monkeypatch: pytest.MonkeyPatch, seconds: float, log: list) -> None:
    """The writer sleeps before each save: training runs ahead of it meanwhile."""
    real = kc._save_model

    def save(tmp: Path, shadow: keras.Model) -> None:
        log.append((threading.current_thread().name, tmp.name))
        time.sleep(seconds)
        real(tmp, shadow)

    monkeypatch.setattr(kc, "_save_model", save)


def test_the_training_thread_never_writes_a_checkpoint(enter_trial, monkeypatch):  # noqa: F811
    threads: list[str] = []
    real = keras.Model.save
    monkeypatch.setattr(keras.Model, "save", lambda self, *a, **k: (
        threads.append(threading.current_thread().name), real(self, *a, **k))[1])
    t = enter_trial()
    fit(model(), tk.TuituneCallback(), epochs=3)
    assert threads and threading.main_thread().name not in threads
    assert t.store.trial(t.id).checkpoint_step == 3


def test_each_file_holds_exactly_its_epoch_while_the_writer_lags(
        enter_trial, monkeypatch, tmp_path):  # noqa: F811
    writes: list = []
    slow_save(monkeypatch, 0.4, writes)
    kept = tmp_path / "kept"
    kept.mkdir()
    real_written = tk.TuituneCallback._checkpoint_written

    def keep_copy(self, final: Path, step: int) -> None:  # every file, before pruning
        (kept / final.name).write_bytes(final.read_bytes())
        real_written(self, final, step)

    monkeypatch.setattr(tk.TuituneCallback, "_checkpoint_written", keep_copy)
    t = enter_trial()
    m = model(keras.optimizers.Adam(0.05))
    at_end: dict[int, list[np.ndarray]] = {}
    record = [At(e, lambda e=e: at_end.__setitem__(e + 1, _weights(m))) for e in range(6)]
    fit(m, tk.TuituneCallback(), epochs=6, extra=record)
    files = sorted(kept.iterdir())
    assert len(files) >= 2 and files[-1].name == "epoch-0006.keras"
    for path in files:
        step = int(path.stem.split("-")[1])
        restored = keras.models.load_model(path)
        assert int(restored.optimizer.iterations) == step * 4  # 64 examples, batch 16
        for got, want in zip(_weights(restored), at_end[step], strict=True):
            np.testing.assert_array_equal(got, want)
    assert t.store.trial(t.id).checkpoint_step == 6


def test_a_fit_returns_only_after_its_last_save_is_named(enter_trial, monkeypatch):  # noqa: F811
    slow_save(monkeypatch, 1.0, [])
    t = enter_trial()
    fit(model(), tk.TuituneCallback(), epochs=2)
    record = t.store.trial(t.id)  # no waiting: fit has returned
    assert record.checkpoint_step == 2 and Path(record.checkpoint).is_file()
    assert not [p for p in Path(record.checkpoint).parent.iterdir()
                if p.name.startswith(".")]  # no temporary file left behind


def test_a_model_without_config_is_saved_synchronously(enter_trial, monkeypatch):  # noqa: F811
    class Bare(keras.Model):  # subclassed, no get_config: cannot be cloned
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, activation="softmax")

        def call(self, x):
            return self.dense(x)

    threads: list[str] = []
    real = keras.Model.save
    monkeypatch.setattr(keras.Model, "save", lambda self, *a, **k: (
        threads.append(threading.current_thread().name), real(self, *a, **k))[1])
    t = enter_trial()
    m = Bare()
    m.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    fit(m, tk.TuituneCallback(), epochs=2)
    assert t.store.trial(t.id).checkpoint_step == 2
    assert threads and set(threads) == {threading.main_thread().name}


# -- a real SIGKILL at each moment of a write ------------------------------------------------

CHILD = r'''
import json, os, signal, sys
from pathlib import Path
import numpy as np
import keras
from sklearn.datasets import load_digits
import tuitune.in_trial.keras as tk
import tuitune.in_trial.keras_checkpoint as kc

point, crash_from, log = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
def die(step):
    # The writer may skip a snapshot when it lags: the crash is at the first step
    # written from crash_from on; the test learns which.
    (log.parent / "crashed_at").write_text(str(step))
    os.kill(os.getpid(), signal.SIGKILL)

real_save, real_written = kc._save_model, tk.TuituneCallback._checkpoint_written
def save(tmp, shadow):
    step = int(tmp.name.split("epoch-")[1][:4])
    real_save(tmp, shadow)
    if step < crash_from:
        return
    if point == "mid_write":  # half a file on disk, then the process dies
        data = tmp.read_bytes()
        tmp.write_bytes(data[: len(data) // 2])
        die(step)
    if point == "written_before_rename":
        die(step)
def written(self, final, step):
    if point == "renamed_before_named" and step >= crash_from:
        die(step)
    real_written(self, final, step)
kc._save_model = save
tk.TuituneCallback._checkpoint_written = written

class Log(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        sums = [float(np.sum(np.array(v, dtype="float64"))) for v in self.model.weights]
        with log.open("a") as f:
            f.write(json.dumps({"step": epoch + 1, "sums": sums}) + "\n")

digits = load_digits()
x, y = digits.data[:320].astype("float32") / 16.0, digits.target[:320]
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                      keras.layers.Dense(10, activation="softmax")])
m.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
m.fit(x, y, batch_size=32, epochs=6, callbacks=[Log(), tk.TuituneCallback()], verbose=0)
print("finished without a crash")
'''


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid_write", "written_before_rename",
                                   "renamed_before_named"])
def test_sigkill_during_a_write_leaves_the_named_checkpoint_whole(tmp_path, point):
    spec = tmp_path / "cb.toml"
    spec.write_text(SPEC)
    run = create_run(load_spec(spec), tmp_path / "runs")
    store = RunStore(run)
    tid = store.create_trial({}, "manual", "test")
    store.transition(tid, "running", "engine", "started")
    folder = trial_dir(run, tid)
    folder.mkdir(parents=True, exist_ok=True)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    log = tmp_path / "epochs.jsonl"
    env = {**os.environ, "TUITUNE_RUN_DIR": str(run), "TUITUNE_STORE": str(run / "store.db"),
           "TUITUNE_TRIAL_ID": str(tid), "TUITUNE_TRIAL_DIR": str(folder),
           "TUITUNE_PARAMS": "{}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(child), point, "4", str(log)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stdout + proc.stderr  # it really was SIGKILLed
    crashed_at = int((tmp_path / "crashed_at").read_text())
    record = store.trial(tid)
    store.close()
    # The store names an earlier epoch's file, complete and loadable: the one a
    # clone would copy. The crashed epoch's file is never named.
    assert record.checkpoint_step is not None and record.checkpoint_step < crashed_at
    named = Path(record.checkpoint)
    assert named.name == f"epoch-{record.checkpoint_step:04d}.keras"
    restored = keras.models.load_model(named)
    sums = {e["step"]: e["sums"] for e in map(json.loads, log.read_text().splitlines())}
    got = [float(np.sum(np.array(v, dtype="float64"))) for v in restored.weights]
    assert got == pytest.approx(sums[record.checkpoint_step], rel=1e-6, abs=1e-6)
    # Whatever else is there is either a complete named file or a hidden temporary.
    for path in named.parent.iterdir():
        if not path.name.startswith("."):
            keras.models.load_model(path)
