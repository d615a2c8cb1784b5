"""A real TensorFlow training run through the engine: the MNIST-MLP sample (on the
offline 8x8 digits, tiny layers) as trial processes of a real supervisor, steered
through RunClient like a front end would: a live learning-rate tweak, a clone from
a checkpoint, and a stop request.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support.extras import NO_KERAS, NO_SKLEARN

pytest.importorskip("keras", reason=NO_KERAS)
pytest.importorskip("sklearn", reason=NO_SKLEARN)

from tests.support.waiting import wait_for  # noqa: E402
from tuitune.client.run_client import RunClient  # noqa: E402
from tuitune.core.spec import load_spec  # noqa: E402
from tuitune.engine.logs import log_tail  # noqa: E402
from tuitune.engine.runs import create_run  # noqa: E402
from tuitune.engine.supervisor import Supervisor  # noqa: E402
from tuitune.store import RunStore  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "sample_specs"
EPOCHS = 20

SPEC = f"""
name = "keras-engine"
workdir = "{SAMPLES}"
command = ["{{python}}", "train_mnist_mlp.py", "--lr", "{{lr}}", "--epochs", "{{epochs}}",
           "--batch-size", "16", "--hidden1", "16", "--hidden2", "8", "--dataset", "digits",
           "--limit", "640", "--threads", "1"]
kill_grace = 5

[env]
TF_CPP_MIN_LOG_LEVEL = "2"

[space.lr]
type = "float"
low = 0.0001
high = 0.1
log = true
mutable = true
default = 0.01

[space.epochs]
type = "fixed"
value = {EPOCHS}

[objective]
metric = "val_loss"
mode = "min"

[metrics]
source = "api"

[budget]
max_concurrent = 2
"""

START_TIMEOUT = 120  # TensorFlow takes 10-20 s to import on a busy 2-core machine


@pytest.mark.slow
def test_keras_trial_reports_tweaks_checkpoints_clones_and_stops(tmp_path, tt_home):
    spec_path = tmp_path / "keras.toml"
    spec_path.write_text(SPEC)
    run_dir = create_run(load_spec(spec_path), tt_home / "runs")
    sup = Supervisor(run_dir)
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    client = RunClient(run_dir)
    store = RunStore(run_dir)

    def curve(tid: int, name: str = "loss") -> dict[int, float]:
        return {p.step: p.value for p in store.metrics(trial_id=tid, name=name)}

    try:
        assert client.send("new", {"params": {"lr": 0.01}}).ok
        wait_for(lambda: curve(1), START_TIMEOUT, "trial 1's first epoch")

        # A live tweak, as `tuitune tweak RUN 1 lr=0.002` sends it.
        assert client.send("tweak", {"trial_id": 1, "set": {"lr": 0.002}}).ok
        change = wait_for(lambda: [c for c in store.param_changes(1) if c.applied_step],
                          60, "the tweak to be applied")[0]
        wait_for(lambda: (store.trial(1).checkpoint_step or 0) >= 3, 60, "a checkpoint")

        # Clone from the latest checkpoint, as `tuitune clone RUN 1 --from-checkpoint`.
        assert client.send("clone", {"trial_id": 1, "from_checkpoint": True}).ok
        clone = store.trial(2)
        assert clone.initial_checkpoint and clone.clone_step >= 3
        first = clone.clone_step + 1
        wait_for(lambda: curve(2) or store.trial(2).state not in ("queued", "running"),
                 START_TIMEOUT, "the clone's first epoch")
        assert curve(2), (store.trial(2).state, log_tail(run_dir / "trials/2/log.txt"))

        # Ask the clone to stop, as a stopping rule does: it ends cleanly, exit 0.
        store.update_trial(2, stop_requested=1)
        wait_for(lambda: store.trial(2).state == "completed", 60, "the clone to stop")
        wait_for(lambda: store.trial(1).state == "completed", 60, "trial 1 to finish")
    finally:
        client.send("stop", {})
        thread.join(30)
        client.close()

    # Trial 1: every epoch reported, last checkpoint recorded.
    t1 = store.trial(1)
    assert t1.exit_code == 0
    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert sorted(curve(1, name)) == list(range(1, EPOCHS + 1)), name
    assert t1.checkpoint == str(run_dir / "trials" / "1" / "checkpoints" / "epoch-0020.keras")
    assert t1.checkpoint_step == EPOCHS and Path(t1.checkpoint).exists()

    # The tweak changed the optimizer from the step it was acknowledged at.
    assert change.applied_step >= 2
    lrs = curve(1, "learning_rate")
    assert all(v == pytest.approx(0.01) for s, v in lrs.items() if s < change.applied_step)
    assert all(v == pytest.approx(0.002) for s, v in lrs.items() if s >= change.applied_step)

    # The clone went on from the checkpoint: first step after it, with a trained
    # model's loss (not a fresh one's) and the source's current lr.
    t2, loss1, loss2 = store.trial(2), curve(1), curve(2)
    assert t2.exit_code == 0 and min(loss2) == first
    assert t2.params["lr"] == 0.002 and curve(2, "learning_rate")[first] == pytest.approx(0.002)
    assert Path(clone.initial_checkpoint).name == f"epoch-{clone.clone_step:04d}.keras"
    near = [loss1[s] for s in (first - 1, first) if s in loss1]
    assert loss2[first] < 1.5 * max(near)
    assert loss2[first] < 0.6 * loss1[1]
    assert max(loss2) < EPOCHS  # stopped early, on request
    log = (run_dir / "trials" / "2" / "log.txt").read_text()
    assert "resumed from" in log and "stop requested" in log
    store.close()
