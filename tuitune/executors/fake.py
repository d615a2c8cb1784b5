"""A fake executor: each trial is a script run in the supervisor's own thread.

For tests of engine logic (search driving, budget, stopping decisions, commands,
summaries) that need no real process. A trial is a generator function the test
writes; it is advanced one quantum each supervisor tick (`pump`), so a run is
deterministic and takes milliseconds when the test also drives the clock. What the
script reports goes into the run store through the same store call the trial-side
sink makes (`record_reports`), what it prints goes to its log file, where the
engine's output reader finds it. Signals are simulated: SIGTERM ends the trial unless
its script ignores or notices it, SIGSTOP freezes it, SIGKILL ends it at once.

Real processes stay for what needs them: signals to process trees, crash points,
launch tokens found in /proc, adoption by a new supervisor process, logs a child writes.
"""

from __future__ import annotations

import json
import os
import signal
import traceback
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Literal

from tuitune.executors.base import Exit, LaunchRequest, SignalExecutor, TrialHandle
from tuitune.executors.launch_token import LAUNCH_TOKEN_ENV

#: What a script is: called with its trial, it yields to let a tick pass and returns
#: its exit code (None means 0). An exception it raises is a crash: exit code 1, the
#: traceback in its log, as Python would do.
ScriptRun = Iterator[None] | Generator[None, None, "int | None"]
Script = Callable[["FakeTrial"], ScriptRun]

#: How a script meets SIGTERM: end by it (Python's default), ignore it, or only
#: notice it (`FakeTrial.term_received`) and end in its own time.
OnSigterm = Literal["die", "ignore", "notice"]

FIRST_PID = 5_000_000  # above Linux's largest pid_max: never a real process's pid


class FakeTrial:
    """What a script sees (the in-trial API, in miniature) and what a test inspects."""

    def __init__(self, request: LaunchRequest, pid: int, clock: Callable[[], float],
                 store_of: Callable[[str], Any]) -> None:
        self.request = request
        self.pid = pid
        self.env = dict(request.env)
        self.params: dict[str, Any] = json.loads(self.env.get("TUITUNE_PARAMS", "{}"))
        checkpoint = self.env.get("TUITUNE_INITIAL_CHECKPOINT")
        self.initial_checkpoint = Path(checkpoint) if checkpoint else None
        self.initial_step = int(self.env.get("TUITUNE_INITIAL_STEP", "0") or 0)
        self.on_sigterm: OnSigterm = "die"
        self.term_received = False
        self.signals: list[int] = []  # every signal the trial was sent, in order
        self.paused = False
        self.ended: Exit | None = None
        self.ticks = 0  # quanta it has run
        self._clock = clock
        self._store_of = store_of
        self._api_marked = False
        self._run: ScriptRun | None = None

    @property
    def trial_id(self) -> int:
        return self.request.trial_id

    # -- the in-trial API -------------------------------------------------------------
    def report(self, step: int, **metrics: float) -> None:
        now = self._clock()
        points = [(step, name, float(value), now) for name, value in metrics.items()]
        self._store().record_reports(self.trial_id, points,
                                     mark_api_seen=not self._api_marked)
        self._api_marked = self._api_marked or bool(points)

    def print(self, *parts: object) -> None:
        """A line of output, as the process would print it to its log."""
        with open(self.request.log_path, "a") as log:
            log.write(" ".join(map(str, parts)) + "\n")

    def checkpoint_dir(self) -> Path:
        path = self.request.trial_dir / "checkpoints"
        path.mkdir(exist_ok=True, mode=0o700)
        return path

    def checkpoint(self, step: int, content: str) -> Path:
        """Save `content` as this step's checkpoint file and tell the store."""
        path = self.checkpoint_dir() / f"ckpt-{step}.txt"
        path.write_text(content)
        self._store().record_reports(self.trial_id, (), checkpoint=(str(path), step))
        return path

    def apply_tweaks(self, step: int) -> dict[str, Any]:
        """Pending tweaks, acknowledged as holding from `step`."""
        store = self._store()
        changes = store.param_changes(self.trial_id, unapplied_only=True)
        if not changes:
            return {}
        store.record_reports(self.trial_id, (), acks=[([c.id for c in changes], step)])
        applied = {c.name: c.value for c in changes}
        self.params.update(applied)
        return applied

    def should_stop(self) -> bool:
        trial = self._store().trial(self.trial_id)
        return bool(trial and trial.stop_requested)

    # -- driven by the executor -------------------------------------------------------
    def start(self, script: Script) -> None:
        self._run = script(self)

    def advance(self) -> None:
        """Run the script until it yields (one tick's work) or ends."""
        if self.ended is not None or self.paused or self._run is None:
            return
        self.ticks += 1
        try:
            next(self._run)
        except StopIteration as stop:
            self.ended = Exit(0 if stop.value is None else int(stop.value))
        except Exception:
            self.print(traceback.format_exc().rstrip())
            self.ended = Exit(1)

    def signal(self, sig: int) -> None:
        if self.ended is not None:
            return
        self.signals.append(sig)
        if sig == signal.SIGSTOP:
            self.paused = True
        elif sig == signal.SIGCONT:
            self.paused = False
        elif sig == signal.SIGKILL or (sig == signal.SIGTERM and self.on_sigterm == "die"):
            self._end_by(sig)
        elif sig == signal.SIGTERM:
            self.term_received = self.term_received or self.on_sigterm == "notice"

    def _end_by(self, sig: int) -> None:
        # SIGKILL goes to the whole process group, the launcher included, as the
        # local executor's does: the launcher cannot record the exit.
        self.ended = Exit(None, sig, launcher_killed=sig == signal.SIGKILL)
        if isinstance(self._run, Generator):
            self._run.close()

    def _store(self) -> Any:
        return self._store_of(self.env.get("TUITUNE_STORE", ""))


class FakeExecutor(SignalExecutor):
    """Every trial follows `script` (which may look at its trial's id and parameters).
    Keep one instance across supervisors to play a supervisor that died while its
    trials lived on: the next one adopts them."""

    def __init__(self, script: Script, clock: Callable[[], float]) -> None:
        self.script = script
        self.clock = clock
        self.trials: dict[int, FakeTrial] = {}  # by trial id, the latest start
        self.started: list[FakeTrial] = []  # every start, in order
        self._by_pid: dict[int, FakeTrial] = {}
        self._stores: dict[str, Any] = {}
        self._next_pid = FIRST_PID

    def start(self, request: LaunchRequest) -> TrialHandle:
        request.trial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(request.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        self._next_pid += 1
        trial = FakeTrial(request, self._next_pid, self.clock, self._store)
        self.trials[request.trial_id] = trial
        self.started.append(trial)
        self._by_pid[trial.pid] = trial
        trial.start(self.script)
        return self._handle(trial)

    def _handle(self, trial: FakeTrial) -> TrialHandle:
        return TrialHandle(trial.trial_id, trial.pid, float(trial.pid),
                           trial_dir=str(trial.request.trial_dir))

    def _trial(self, handle: TrialHandle) -> FakeTrial | None:
        trial = self._by_pid.get(handle.pid)
        return trial if trial is not None and float(trial.pid) == handle.pid_start else None

    def pump(self, store: Any) -> None:
        for trial in list(self._by_pid.values()):
            trial.advance()

    def poll(self, handle: TrialHandle) -> Exit | None:
        trial = self._trial(handle)
        return Exit(None) if trial is None else trial.ended

    def _signal(self, handle: TrialHandle, sig: int) -> None:
        trial = self._trial(handle)
        if trial is not None:
            trial.signal(sig)

    def kill(self, handle: TrialHandle) -> None:
        self._signal(handle, signal.SIGKILL)

    def adopt(self, handle: TrialHandle) -> bool:
        trial = self._trial(handle)
        return trial is not None and trial.ended is None

    def find_launch(self, trial_id: int, token: str, trial_dir: Path
                    ) -> TrialHandle | Exit | None:
        for trial in self.started:
            if trial.trial_id == trial_id and trial.env.get(LAUNCH_TOKEN_ENV) == token:
                return self._handle(trial) if trial.ended is None else trial.ended
        return None

    def close(self) -> None:
        """Close the trials' store connections; the trials live on (a later
        supervisor with this executor adopts them)."""
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    def _store(self, path: str) -> Any:
        from tuitune.store import RunStore

        if path not in self._stores:
            self._stores[path] = RunStore(path, clock=self.clock)
        return self._stores[path]
