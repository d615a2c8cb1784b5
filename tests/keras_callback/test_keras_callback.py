"""TuituneCallback in-process, with real Keras training on tiny data and a real run
store: the trial side is set up exactly as the engine's launcher would (TUITUNE_*
environment), and the front end's side (tweaks, stop requests) is written straight
into the store, as the supervisor does on a command.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.support.extras import NO_KERAS

keras = pytest.importorskip("keras", reason=NO_KERAS)

import tuitune.in_trial.keras as tk  # noqa: E402
import tuitune.in_trial.trial as tt  # noqa: E402
from tuitune.core.roles import ROLES_ENV  # noqa: E402
from tuitune.core.spec import load_spec  # noqa: E402
from tuitune.engine.launch import build_launch  # noqa: E402
from tuitune.engine.runs import create_run, trial_dir  # noqa: E402
from tuitune.store import RunStore  # noqa: E402

SPEC = """
name = "cb"
command = ["{python}", "unused.py"]

[space.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
mutable = true

[objective]
metric = "val_loss"
mode = "min"
"""


@dataclass
class Trial:
    run_dir: Path
    store: RunStore
    id: int

    @property
    def folder(self) -> Path:
        return trial_dir(self.run_dir, self.id)

    def metric(self, name: str) -> dict[int, float]:
        tt.flush()
        return {p.step: p.value for p in self.store.metrics(trial_id=self.id, name=name)}


def _reset_trial_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """tuitune.in_trial.trial keeps per-process state; each test is a fresh 'process'."""
    for name, value in (("_sink", None), ("_params", None), ("_stop", False),
                        ("_pending", []), ("_last_poll", 0.0)):
        monkeypatch.setattr(tt, name, value)
    # Read stop requests and tweaks on every call, so tests are deterministic.
    monkeypatch.setattr(tt, "CONTROL_POLL_INTERVAL", 0.0)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    spec = tmp_path / "cb.toml"
    spec.write_text(SPEC)
    return create_run(load_spec(spec), tmp_path / "runs")


@pytest.fixture
def enter_trial(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Returns a function that makes this process trial N of the run."""
    stores: list[RunStore] = []
    old_term = signal.getsignal(signal.SIGTERM)

    def enter(params: dict | None = None, initial: Path | None = None,
              initial_step: int = 0) -> Trial:
        store = RunStore(run_dir)
        stores.append(store)
        tid = store.create_trial(params or {}, "manual", "test")
        store.transition(tid, "running", "engine", f"trial {tid} started")
        folder = trial_dir(run_dir, tid)
        folder.mkdir(parents=True, exist_ok=True)
        tt.flush()
        _reset_trial_module(monkeypatch)
        env = {"TUITUNE_RUN_DIR": str(run_dir), "TUITUNE_STORE": str(run_dir / "store.db"),
               "TUITUNE_TRIAL_ID": str(tid), "TUITUNE_TRIAL_DIR": str(folder),
               "TUITUNE_PARAMS": "{}"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        if initial is not None:
            monkeypatch.setenv("TUITUNE_INITIAL_CHECKPOINT", str(initial))
            monkeypatch.setenv("TUITUNE_INITIAL_STEP", str(initial_step))
        else:
            monkeypatch.delenv("TUITUNE_INITIAL_CHECKPOINT", raising=False)
            monkeypatch.delenv("TUITUNE_INITIAL_STEP", raising=False)
        return Trial(run_dir, store, tid)

    yield enter
    tt.flush()
    for store in stores:
        store.close()
    signal.signal(signal.SIGTERM, old_term)  # the trial sink installs a flush-on-SIGTERM


def data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


def model(optimizer=None, units: int = 8, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer or keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def fit(m, cb, epochs, extra=(), **kw):
    x, y = data()
    return m.fit(x, y, validation_data=data(32, 1), batch_size=16, epochs=epochs,
                 callbacks=[*extra, cb], verbose=0, shuffle=False, **kw)


class At(keras.callbacks.Callback):
    """Runs `fn` at the end of epoch `epoch` (0-based), batch `batch` if given."""

    def __init__(self, epoch: int, fn, batch: int | None = None) -> None:
        super().__init__()
        self.epoch, self.batch, self.fn, self._now = epoch, batch, fn, -1

    def on_epoch_begin(self, epoch, logs=None):
        self._now = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch and self.batch is None:
            self.fn()

    def on_train_batch_end(self, batch, logs=None):
        if self._now == self.epoch and batch == self.batch:
            self.fn()


def test_reports_every_epoch_and_saves_an_atomic_checkpoint(enter_trial):
    t = enter_trial()
    cb = tk.TuituneCallback()
    assert cb.checkpoint and cb.initial_epoch == 0
    fit(model(), cb, epochs=3)
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert sorted(t.metric(name)) == [1, 2, 3], name
    assert list(t.metric("learning_rate").values()) == pytest.approx([0.01] * 3)
    record = t.store.trial(t.id)
    assert record.checkpoint == str(t.folder / "checkpoints" / "epoch-0003.keras")
    assert record.checkpoint_step == 3 and record.api_seen
    # The last two are kept (a clone may be copying the older); no temp file is left.
    assert sorted(os.listdir(t.folder / "checkpoints")) == ["epoch-0002.keras",
                                                            "epoch-0003.keras"]
    restored = keras.models.load_model(record.checkpoint)
    assert int(restored.optimizer.iterations) == 12  # 4 batches x 3 epochs


def test_saves_are_spaced_out_when_they_would_cost_more_than_the_budget(
        enter_trial, monkeypatch):
    enter_trial()
    real = tt.checkpoint_saved
    saved: list[int] = []
    monkeypatch.setattr(tt, "checkpoint_saved", lambda p, step: (saved.append(step),
                                                                 real(p, step)))
    m = model()
    slow_save = m.save

    def save(path):  # a big model: each save costs far more than an epoch
        time.sleep(0.3)
        slow_save(path)

    monkeypatch.setattr(m, "save", save)
    fit(m, tk.TuituneCallback(checkpoint_max_overhead=0.02), epochs=5)
    assert saved == [1, 5]  # the first (cost unknown yet) and the last
    saved.clear()
    fit(m, tk.TuituneCallback(), epochs=3)  # by default: every epoch, whatever it costs
    assert saved == [1, 2, 3]


def test_batch_reports_use_a_global_step_and_their_own_names(enter_trial):
    t = enter_trial()
    fit(model(), tk.TuituneCallback(batch_every=3, checkpoint=False), epochs=2)
    # 4 batches an epoch: global batches 3 and 6 of 8.
    assert sorted(t.metric("batch/loss")) == [3, 6]
    assert sorted(t.metric("loss")) == [1, 2]
    assert t.store.trial(t.id).checkpoint is None


def test_tweaks_reach_the_optimizer_and_retrace_captured_values(enter_trial):
    """lr=0 and momentum=0 from epoch 2: SGD must then leave the weights exactly
    alone. If the momentum change had not reached the compiled step (still 0.9),
    the velocity would keep moving them."""
    t = enter_trial()
    m = model(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    weights = {}

    def tweak():
        t.store.add_param_change(t.id, "lr", 0.0, "user")
        t.store.add_param_change(t.id, "momentum", 0.0, "user")
        t.store.add_param_change(t.id, "dropout", 0.5, "user")  # no setter: recorded only
        weights[1] = [w.copy() for w in m.get_weights()]

    fit(m, tk.TuituneCallback(checkpoint=False), epochs=2, extra=[At(0, tweak)])
    assert all(np.array_equal(a, b) for a, b in zip(weights[1], m.get_weights(), strict=True))
    assert m.optimizer.momentum == 0.0 and float(m.optimizer.learning_rate) == 0.0
    assert t.metric("learning_rate") == {1: pytest.approx(0.1), 2: 0.0}
    assert {c.name: c.applied_step for c in t.store.param_changes(t.id)} == {
        "lr": 2, "momentum": 2, "dropout": 2}
    assert tt.params()["dropout"] == 0.5


def test_a_declared_role_picks_the_setter(enter_trial, run_dir, tmp_path, monkeypatch,
                                         capfd):
    """`alpha` declared the learning rate is assigned to the optimizer; `lr` declared
    `other` is only recorded. The roles travel in the environment the engine builds."""
    spec_path = tmp_path / "roles.toml"
    spec_path.write_text(SPEC.replace('mutable = true', 'mutable = true\nrole = "other"')
                         .replace("[objective]", "[space.alpha]\ntype = 'float'\nlow = 0.0\n"
                                  "high = 1.0\nmutable = true\nrole = 'learning_rate'\n\n"
                                  "[objective]"))
    env = build_launch(load_spec(spec_path), run_dir, 1, {"lr": 0.1, "alpha": 0.1}, None).env
    t = enter_trial()
    monkeypatch.setenv(ROLES_ENV, env[ROLES_ENV])
    m = model(keras.optimizers.SGD(learning_rate=0.1))

    def tweak():
        t.store.add_param_change(t.id, "alpha", 0.0, "user")
        t.store.add_param_change(t.id, "lr", 0.5, "user")

    fit(m, tk.TuituneCallback(checkpoint=False), epochs=2, extra=[At(0, tweak)])
    assert float(m.optimizer.learning_rate) == 0.0
    assert t.metric("learning_rate") == {1: pytest.approx(0.1), 2: 0.0}
    assert "tweak of lr (to 0.5) recorded, but the callback has no setter" in \
        capfd.readouterr().err


def test_custom_setter_and_a_bad_tweak_does_not_end_training(enter_trial, capfd):
    t = enter_trial()
    seen = []
    cb = tk.TuituneCallback(checkpoint=False, setters={"units": lambda m, v: seen.append(v)})
    m = model(keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)))
    fit(m, cb, epochs=2, extra=[At(0, lambda: [t.store.add_param_change(t.id, k, v, "user")
                                               for k, v in (("units", 4), ("lr", 0.5))])])
    assert seen == [4]
    assert "could not apply the tweak of lr" in capfd.readouterr().err
    assert sorted(t.metric("loss")) == [1, 2]


def test_stop_request_mid_epoch_ends_fit_and_skips_the_partial_epoch(enter_trial):
    t = enter_trial()
    history = fit(model(), tk.TuituneCallback(), epochs=5, extra=[
        At(1, lambda: t.store.update_trial(t.id, stop_requested=1), batch=0)])
    assert len(history.epoch) == 2  # fit returned during epoch 2
    assert sorted(t.metric("loss")) == [1]  # epoch 2 was cut short: not reported
    assert t.store.trial(t.id).checkpoint_step == 1


def test_stop_request_between_epochs_ends_after_a_whole_epoch(enter_trial):
    t = enter_trial()
    history = fit(model(), tk.TuituneCallback(), epochs=5, extra=[
        At(1, lambda: t.store.update_trial(t.id, stop_requested=1))])
    assert len(history.epoch) == 2
    assert sorted(t.metric("loss")) == [1, 2]
    assert t.store.trial(t.id).checkpoint_step == 2


def test_resume_loads_weights_and_optimizer_state_keeps_the_new_lr(enter_trial, tmp_path):
    source = enter_trial()
    fit(model(keras.optimizers.Adam(0.05)), tk.TuituneCallback(), epochs=4)
    ckpt = Path(source.store.trial(source.id).checkpoint)
    copy = tmp_path / "initial" / ckpt.name  # the supervisor copies it, as here
    copy.parent.mkdir()
    shutil.copy(ckpt, copy)
    last_loss = source.metric("loss")[4]

    clone = enter_trial(initial=copy, initial_step=4)
    m = model(keras.optimizers.Adam(0.001), seed=7)  # other init; the checkpoint wins
    cb = tk.TuituneCallback()
    assert cb.initial_epoch == 4
    history = fit(m, cb, epochs=6)  # no initial_epoch given: the callback sets it
    assert history.epoch == [4, 5]
    assert sorted(clone.metric("loss")) == [5, 6]
    assert clone.metric("loss")[5] < last_loss * 1.5
    assert list(clone.metric("learning_rate").values()) == pytest.approx([0.001] * 2)
    assert int(m.optimizer.iterations) == 6 * 4  # restored 16, then 8 more
    assert m._initial_epoch is None  # a later fit() starts at 0 again

    scratch = model(keras.optimizers.Adam(0.001), seed=7)
    assert scratch.evaluate(*data(), verbose=0)[0] > clone.metric("loss")[5] * 1.5


def test_resume_into_another_architecture_fails_clearly(enter_trial, tmp_path):
    source = enter_trial()
    fit(model(units=8), tk.TuituneCallback(), epochs=1)
    ckpt = Path(source.store.trial(source.id).checkpoint)
    enter_trial(initial=ckpt, initial_step=1)
    with pytest.raises(RuntimeError, match="same architecture"):
        fit(model(units=4), tk.TuituneCallback(), epochs=2)


def test_tensorboard_logs_go_to_the_trial_folder(enter_trial):
    pytest.importorskip("tensorboard")
    t = enter_trial()
    assert tk.tensorboard_dir() == t.folder / "tensorboard"
    fit(model(), tk.TuituneCallback(checkpoint=False, tensorboard=True), epochs=2)
    events = list((t.folder / "tensorboard").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"train", "validation"}


def test_tensorboard_missing_is_a_notice_not_a_crash(enter_trial, monkeypatch, capfd):
    t = enter_trial()
    real = tk.importlib.util.find_spec
    monkeypatch.setattr(tk.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    fit(model(), tk.TuituneCallback(checkpoint=False, tensorboard=True), epochs=1)
    assert "TensorBoard is not installed" in capfd.readouterr().err
    assert sorted(t.metric("loss")) == [1]
    assert not (t.folder / "tensorboard").exists()


def test_outside_tuitune_it_trains_and_writes_nothing(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("TUITUNE_")]:
        monkeypatch.delenv(key)
    _reset_trial_module(monkeypatch)
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tempfile.gettempdir()))
    cb = tk.TuituneCallback(batch_every=1)
    assert not cb.checkpoint and cb.initial_epoch == 0
    history = fit(model(), cb, epochs=2)
    assert history.epoch == [0, 1]
    assert os.listdir(tmp_path) == []
    new_in_tmp = set(os.listdir(tempfile.gettempdir())) - before
    assert not any(n.startswith("tuitune-") for n in new_in_tmp)
    assert tt._sink is not None and type(tt._sink).__name__ == "NullSink"


def test_gpu_memory_cap_is_a_no_op_without_gpus(monkeypatch, capsys):
    monkeypatch.setenv("TUITUNE_GPU_MEMORY_MB", "2048")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert tk.configure_gpu_memory() is None
    monkeypatch.setenv("TUITUNE_GPU_MEMORY_MB", "lots")
    assert tk.configure_gpu_memory() is None
    assert "not a whole number" in capsys.readouterr().err
    monkeypatch.delenv("TUITUNE_GPU_MEMORY_MB")
    assert tk.configure_gpu_memory() is None

