"""The supervisor: the one process that starts, signals and records trials.

It owns a run while it lives: it consumes the commands front ends enqueue, watches
trial processes, asks the search for new trials and the stopping rules for
verdicts, and acts on them. Everything it learns goes to the store first, so a
supervisor can be killed at any moment and a new one adopts the live trials.

The work is done by parts that own their state, composed here: the trial lifecycle
(engine/trial_lifecycle.py: start, watch, end, adopt), the search and budget driver
(engine/search_driver.py), GPU placement (engine/placement.py), command handling
(engine/command_desk.py) and notifications (engine/notifications.py). This class runs
the loop, claims the run and says how it ended.

    python -m tuitune.engine.supervisor RUN_DIR [--resume]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tuitune.core.history import QUEUED
from tuitune.core.spec import Spec, load_spec_json
from tuitune.engine.boundary import ErrorBoundary
from tuitune.engine.command_desk import CommandDesk
from tuitune.engine.crash_points import arm_from_env
from tuitune.engine.follow import event_line
from tuitune.engine.notices import Notices
from tuitune.engine.notifications import Notifications
from tuitune.engine.placement import GpuPlacement
from tuitune.engine.runs import SUPERVISOR_LOCK, SUPERVISOR_LOG, supervisor_info
from tuitune.engine.search_driver import BUDGET_USED, MANUAL_IDLE, SearchDriver
from tuitune.engine.snapshot import ObjectiveCurves
from tuitune.engine.trial_lifecycle import TrialLifecycle
from tuitune.executors import Executor, TrialHandle, make_executor
from tuitune.executors.launcher import become_subreaper
from tuitune.executors.local import process_start_time
from tuitune.store import RunStore, StoreError
from tuitune.system import GpuSource

TICK = 0.1  # seconds between loop iterations
HEARTBEAT = 1.0  # seconds between heartbeats in the store
CLOSE_PATIENCE = 30.0  # seconds close() retries recording how the run ended (disk full)
RUN_DIR_GONE = "run folder deleted"


class AlreadySupervised(RuntimeError):
    pass


class Supervisor:
    """Drives one run. Call `run()` for the loop, or `tick()` step by step in tests.

    `trials`, `search`, `placement` and `commands` are its parts; with `store` and
    `spec` it is the `Engine` that command handlers see (engine/command_kind.py)."""

    def __init__(self, run_dir: Path, executor: Executor | None = None,
                 clock: Callable[[], float] = time.time,
                 echo: Callable[[str], None] | None = None,
                 gpu_source: GpuSource | None = None, reap_orphans: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.clock = clock
        self.store = RunStore(self.run_dir, clock=clock)
        self.store.prepare_for_supervisor()
        meta = self.store.meta()
        self.spec: Spec = load_spec_json(meta["spec"])
        self.executor = executor or make_executor(self.spec.executor,
                                                  dict(self.spec.executor_options))
        self.echo = echo
        self.boundary = ErrorBoundary(self.store, self.run_dir / SUPERVISOR_LOG, self._say)
        notices = Notices(self.store)
        curves = ObjectiveCurves(self.spec.objective.metric)
        self.placement = GpuPlacement(self.store, self.spec, gpu_source, clock)
        self.trials = TrialLifecycle(self.store, self.spec, self.run_dir, self.executor,
                                     self.placement, curves, self.boundary, notices, clock,
                                     reap_orphans)
        self.search = SearchDriver(self.store, self.spec, self.trials, curves, self.boundary,
                                   notices, clock)
        self.commands = CommandDesk(self, self.boundary)
        self.notifications = Notifications(self.store, self.spec, self.run_dir, curves,
                                           self.placement, clock)
        self.finished: str | None = None
        # A finished run whose supervisor a hand action started again (client/run_client.py)
        # finishes again once idle, in manual mode too, rather than living on.
        self._finished_before: str | None = (
            meta.get("finished_reason") or "finished") if meta.get("state") == "finished" else None
        self._started_at = meta.get("started_at")
        self._last_event_id = 0
        self._last_beat = 0.0
        self._store_error: str | None = None
        self._store_error_since = 0.0
        self._run_dir_id = _folder_id(self.run_dir)  # deleted or replaced: the run is gone

    @property
    def handles(self) -> dict[int, TrialHandle]:
        """The trials whose processes this supervisor watches."""
        return self.trials.handles

    # -- lifecycle --------------------------------------------------------------------
    def register(self) -> None:
        """Claim the run; refuse if another live supervisor holds it."""
        info = supervisor_info(self.store)
        if info.alive and info.pid != os.getpid():
            raise AlreadySupervised(f"run {self.run_dir.name} is already supervised by pid "
                                    f"{info.pid}")
        now = self.clock()
        if self._started_at is None:
            self._started_at = now
        self.store.set_meta(supervisor_pid=os.getpid(),
                            supervisor_start=process_start_time(os.getpid()),
                            heartbeat=now, state="running", started_at=self._started_at)
        self._last_event_id = max((e.id for e in self.store.events()), default=0)
        self.notifications.start(self._last_event_id)  # earlier events were told before
        self.store.add_event("supervisor_started", "engine",
                             f"supervisor pid {os.getpid()} started", data={"pid": os.getpid()})
        self.recover()
        self.notifications.baseline()

    def recover(self) -> None:
        """Finish what an earlier supervisor left half done (docs/architecture.md,
        "Crash-safe steps"): starts it did not record, trials it left running or
        ending, a stop, commands it took and never answered."""
        self.search.curves.update(self.store)
        self.trials.recover()
        self.commands.answer_interrupted()

    def run(self) -> str:
        """Loop until the experiment is finished; returns why it finished."""
        arm_from_env()
        self.register()
        while self.finished is None:
            self.tick()
            time.sleep(TICK)
        self.wind_down()
        self.close()
        return self.finished

    def wind_down(self) -> None:
        """After the loop of a finished run: the output ended trials left unread (read
        in chunks so far), then the last notifications (the run's end among them)."""
        self.trials.feed.drain()
        with self.boundary.guard("the last notifications"):
            self.notifications.finish(self.clock())

    def close(self) -> None:
        """Say how the run ended in the store; retried a while if the disk is full."""
        self.executor.close()  # running trials stay; an executor may finish what it started
        deadline = time.monotonic() + CLOSE_PATIENCE
        while self.finished != RUN_DIR_GONE:  # a deleted store has nobody to tell
            try:
                self._note_store_back()
                self._echo_events()
                done = {"stopping": None} if self.finished else {}  # a stop ends here
                self.store.set_meta(state="finished" if self.finished else "detached",
                                    supervisor_pid=None, finished_reason=self.finished, **done)
                break
            except StoreError as exc:
                if time.monotonic() >= deadline:
                    _tell_stderr(f"tuitune: could not record that the run "
                                 f"{'finished' if self.finished else 'was detached'}: {exc}")
                    break
                time.sleep(0.5)
        self.store.close()

    def tick(self) -> None:
        """One pass of the loop. A store write that fails (disk full) is reported
        and retried on the next pass; trials keep running meanwhile, and one event
        records the outage once the store takes writes again. Any other failure of
        one step is reported once and the other steps go on."""
        if self._run_dir_id != _folder_id(self.run_dir):
            self._abandon_run()
            return
        try:
            self._tick()
            self._note_store_back()
        except (StoreError, OSError) as exc:  # OSError: e.g. no space for a trial's folder
            if not self._store_error:
                self._store_error, self._store_error_since = str(exc), self.clock()
                self._say(f"error: {exc}; trials keep running, retrying")

    def _note_store_back(self) -> None:
        """After an outage, one event says how long the store refused writes."""
        if self._store_error:
            self.store.add_event(
                "store_unwritable", "engine",
                f"the run store could not be written for "
                f"{self.clock() - self._store_error_since:.0f}s ({self._store_error}); "
                f"trials kept running and kept their reports meanwhile")
            self._store_error = None
            self._say("the run store is writable again")

    def _abandon_run(self) -> None:
        """The run folder was deleted (or replaced): nothing can be recorded any more and
        nothing may be recreated there. End every trial, then finish."""
        _tell_stderr(f"tuitune: the run folder {self.run_dir} was deleted while the run was "
                     f"live; ending its {len(self.trials.handles)} running trial(s) and exiting")
        self.trials.abandon()
        self.finished = RUN_DIR_GONE

    def _tick(self) -> None:
        now = self.clock()
        refused: Exception | None = None
        for what, step in self._steps(now):
            try:
                with self.boundary.guard(what):
                    step()
            except (StoreError, OSError) as exc:  # disk full: the other steps still run
                refused = refused or exc
        if refused is not None:
            raise refused

    def _steps(self, now: float) -> list[tuple[str, Callable[[], None]]]:
        trials, search = self.trials, self.search
        return [
            ("commands", self.commands.handle),
            ("executor", lambda: self.executor.pump(self.store)),
            ("watching trials", lambda: trials.watch(now)),
            ("reading trial output", lambda: trials.read_output(now)),
            ("stopping rules", lambda: search.decide(now)),
            ("time caps", lambda: self._enforce_time_caps(now)),
            ("search", lambda: search.fill(may_fill=not self.finished)),
            ("starting trials", lambda: trials.launch_queued(search.max_concurrent,
                                                             may_start=not self.finished)),
            ("process trees", lambda: trials.refresh_trees(now)),
            ("heartbeat", lambda: self._beat(now)),
            ("GPUs", lambda: self.placement.watch(now, trials.handles)),
            ("finish", self._check_finished),
            ("events", self._echo_events),
            ("notifications", lambda: self.notifications.poll(now)),
            # Notify commands are ours to wait for too (their exit status says if they failed).
            ("reaping", lambda: trials.reap(also=self.notifications.pids)),
        ]

    def _enforce_time_caps(self, now: float) -> None:
        self.trials.enforce_trial_timeout(now, self.search.trial_timeout)
        total = self.search.experiment_timeout
        if total and self._started_at and now - self._started_at > total and not (
                self.finished or self.trials.stopping):
            self.store.add_event("timeout", "budget", f"experiment time cap ({total:g}s) reached")
            self.trials.stop_experiment("budget")

    def _beat(self, now: float) -> None:
        if now - self._last_beat >= HEARTBEAT:
            self._last_beat = now
            self.store.set_meta(heartbeat=now)

    def _check_finished(self) -> None:
        # The event first: if the store refuses it (disk full), the next tick tries again.
        if self.trials.stopping:
            if not self.trials.handles:
                self.store.add_event("finished", "engine", "experiment stopped",
                                     data={"stopped": True})
                self.finished = "stopped"
            return
        if self.finished or self.trials.handles or self.store.count_trials([QUEUED]):
            return
        if self.store.pending_commands():
            return  # e.g. a new trial for a finished run, sent as it was finishing
        reason = self.search.done_reason()
        if not reason and self.search.searcher is None and self._finished_before:
            # The hand actions that revived it are done. The old reason stands, unless
            # it was a budget the run has room in again (a hand-off gave more trials).
            reason = (MANUAL_IDLE if self._finished_before == BUDGET_USED
                      else self._finished_before)
        if reason:
            self.store.add_event("finished", "engine", f"experiment finished: {reason}")
            self.finished = reason

    # -- output -------------------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self.echo:
            try:
                self.echo(line)
            except (OSError, ValueError):
                pass  # our log is on a full disk: the store keeps the events

    def _echo_events(self) -> None:
        if not self.echo:
            return
        for e in self.store.events(after_id=self._last_event_id):
            self._last_event_id = e.id
            self._say(event_line(e))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuitune.engine.supervisor")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    _owner_only_files()
    # A dropped SSH session must not take the experiment with it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    lock = _claim(args.run_dir)
    if lock is None:
        print(f"tuitune: run {args.run_dir.name} already has a supervisor", file=sys.stderr)
        return 1
    become_subreaper()  # orphans of killed trials come to us to be reaped
    sup = Supervisor(args.run_dir, echo=lambda line: print(line, flush=True), reap_orphans=True)
    signal.signal(signal.SIGTERM, lambda *_: _detach(sup))
    try:
        reason = sup.run()
    except AlreadySupervised as exc:
        print(f"tuitune: {exc}", file=sys.stderr)
        return 1
    except _Detach:
        sup.close()
        return 0
    return 1 if reason == RUN_DIR_GONE else 0


def _owner_only_files() -> None:
    """Everything the supervisor creates is its owner's only. Trials get back the
    umask the user started tuitune with (the launcher applies it)."""
    user_umask = os.umask(0o077)
    os.environ.setdefault("TUITUNE_TRIAL_UMASK", f"{user_umask:03o}")


def _folder_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _tell_stderr(line: str) -> None:
    """A line for whoever reads our stderr (the log may be full or deleted: then lost)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _claim(run_dir: Path) -> int | None:
    """An exclusive lock on the run, held until this process ends: two front ends that
    each start a supervisor for the same run at the same moment get one supervisor."""
    fd = os.open(run_dir / SUPERVISOR_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd  # not inherited by trials (os.open is close-on-exec)


class _Detach(BaseException):
    """SIGTERM: leave the loop wherever it is (no step's error boundary catches it)."""


def _detach(sup: Supervisor) -> None:
    raise _Detach()


if __name__ == "__main__":
    sys.exit(main())
