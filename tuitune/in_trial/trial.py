"""The in-trial API: what a training script calls to talk to tuitune.

    import tuitune.trial as tt
    lr = tt.params().get("lr", 1e-3)
    for epoch in range(1, epochs + 1):
        for name, value in tt.apply_tweaks(step=epoch).items():
            ...                      # e.g. set the optimizer's learning rate
        loss = train_one_epoch()
        tt.report(epoch, loss=loss)
        if tt.should_stop():
            break

Importing it is cheap (standard library only). Outside tuitune (no TUITUNE_*
environment) every call works and does nothing: `params()` is empty, `report()`
keeps nothing, `should_stop()` is False, so the same script runs by hand.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tuitune.in_trial.sink import Sink, make_sink
from tuitune.core.steps import to_step

__all__ = [
    "CONTROL_POLL_INTERVAL", "active", "apply_tweaks", "checkpoint_dir", "checkpoint_saved",
    "flush", "initial_checkpoint", "initial_step", "params", "pending_tweaks", "report",
    "should_stop", "trial_id",
]

CONTROL_POLL_INTERVAL = 0.5  # seconds between reads of stop requests and tweaks

_state_lock = threading.Lock()
_sink: Sink | None = None
_params: dict[str, Any] | None = None
_last_poll = 0.0
_stop = False
_pending: list[tuple[int, str, Any]] = []


def active() -> bool:
    """True when the script runs as a tuitune trial."""
    return bool(os.environ.get("TUITUNE_TRIAL_ID"))


def trial_id() -> int | None:
    value = os.environ.get("TUITUNE_TRIAL_ID")
    return int(value) if value else None


def params() -> dict[str, Any]:
    """The trial's parameters, with every tweak applied so far."""
    global _params
    if _params is None:
        _params = json.loads(os.environ.get("TUITUNE_PARAMS", "{}"))
    return dict(_params)


def _get_sink() -> Sink:
    global _sink
    with _state_lock:
        if _sink is None:
            _sink = make_sink()
            _install_flush_on_sigterm()
        return _sink


def _install_flush_on_sigterm() -> None:
    """Flush queued points when the engine asks the trial to end, unless the script
    handles SIGTERM itself (then its own handler is left alone)."""
    if not active() or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def _flush_and_die(signum: int, frame: Any) -> None:
        try:
            if _sink is not None:
                _sink.finish()  # waits a while for a full disk; the engine's SIGKILL may not
        finally:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, _flush_and_die)


def _checked_step(step: Any, caller: str) -> int:
    at = to_step(step)
    if at is None:
        raise ValueError(f"tuitune.trial.{caller}: step must be a whole number between "
                         f"-2**63 and 2**63-1, got {step!r}")
    return at


def report(step: int, **metrics: float) -> None:
    """Record metric values at `step` (an epoch or a batch count). Never blocks.

    Non-finite values are kept (as NaN/inf) so divergence can be detected. A step
    that is not a whole number the store can hold raises ValueError here, at the call.
    """
    at = _checked_step(step, "report")
    now = time.time()
    points = []
    for name, value in metrics.items():
        try:
            points.append((at, name, float(value), now))
        except (TypeError, ValueError, OverflowError):
            continue  # a non-numeric value is not a metric; skip it quietly
    if points:
        _get_sink().write_points(points)


def _poll(force: bool = False) -> None:
    global _last_poll, _stop, _pending
    if not active():
        return
    now = time.monotonic()
    if not force and now - _last_poll < CONTROL_POLL_INTERVAL:
        return
    _last_poll = now
    try:
        stop, pending = _get_sink().poll_control()
    except Exception:
        return  # the store is busy or briefly unreadable: ask again next time
    _stop = _stop or stop
    _pending = pending


def should_stop() -> bool:
    """True once the engine asked this trial to stop early (e.g. a stopping rule)."""
    _poll()
    return _stop


def pending_tweaks() -> dict[str, Any]:
    """Parameter changes requested but not applied yet (later ones win)."""
    _poll()
    return {name: value for _, name, value in _pending}


def apply_tweaks(step: int) -> dict[str, Any]:
    """Take the pending tweaks as holding from `step` on; returns {name: new value}.

    Call it where the script can apply them (the start of an epoch or step) and
    apply what it returns. The store records each value with the step it took effect.
    """
    global _pending
    at = _checked_step(step, "apply_tweaks")  # before taking anything: a bad step keeps them
    _poll(force=True)
    if not _pending:
        return {}
    taken, _pending = _pending, []
    changes = {name: value for _, name, value in taken}
    params()  # load the initial values first
    assert _params is not None
    _params.update(changes)
    _get_sink().ack_changes([cid for cid, _, _ in taken], at)
    return changes


def checkpoint_dir() -> Path:
    """Where this trial should save checkpoints (created on first call)."""
    folder = os.environ.get("TUITUNE_TRIAL_DIR")
    if folder:
        # Only the last level: the engine made the trial's folder, and if it is gone
        # (the run was deleted) it must not come back, as nobody's but the engine's.
        path = Path(folder) / "checkpoints"
        path.mkdir(exist_ok=True, mode=0o700)
        return path
    path = Path(tempfile.gettempdir()) / f"tuitune-checkpoints-{os.getpid()}"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def checkpoint_saved(path: str | os.PathLike[str], step: int) -> None:
    """Tell tuitune the latest checkpoint, so the trial can be cloned from it.

    Save each checkpoint under a new name (per step) and delete old ones only after
    this call: a clone copies the file the store names, and the store learns of a new
    file a moment after it is written.
    """
    _get_sink().set_checkpoint(str(path), _checked_step(step, "checkpoint_saved"))


def initial_checkpoint() -> Path | None:
    """The checkpoint this trial was cloned from, or None when it starts from scratch."""
    value = os.environ.get("TUITUNE_INITIAL_CHECKPOINT")
    return Path(value) if value else None


def initial_step() -> int:
    """The step the initial checkpoint was saved at (0 when starting from scratch)."""
    return int(os.environ.get("TUITUNE_INITIAL_STEP", "0") or 0)


def flush() -> bool:
    """Write every queued report now (also done at exit and on SIGTERM). Never raises:
    False when they cannot be written yet (e.g. a full disk); they stay queued, are
    written as soon as the disk takes them, and the exit waits for them a while."""
    if _sink is None:
        return True
    try:
        _sink.flush()
    except Exception:
        return False
    return True
