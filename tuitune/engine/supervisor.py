"""The supervisor: the one process that starts, signals and records trials.

It owns a run while it lives: it consumes the commands front ends enqueue, watches
trial processes, asks the search for new trials and the stopping rules for
verdicts, and acts on them. Everything it learns goes to the store first, so a
supervisor can be killed at any moment and a new one adopts the live trials.

    python -m tuitune.engine.supervisor RUN_DIR [--resume]
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuitune.core.decisions import Exhausted, Exploit, Stop, Suggest, Wait
from tuitune.engine.actions import CommandActions
from tuitune.engine.commands import budget_used
from tuitune.engine.boundary import ErrorBoundary
from tuitune.engine.crash_points import arm_from_env, crash_point
from tuitune.engine.end_plan import EndPlan
from tuitune.engine.feed import TrialFeed
from tuitune.engine.follow import event_line
from tuitune.engine.gpu_alloc import GpuWait
from tuitune.engine.gpus import GpuScheduler
from tuitune.engine.launch import build_launch
from tuitune.engine.logs import log_tail
from tuitune.engine.outcomes import classify_exit
from tuitune.engine.runs import (
    SUPERVISOR_LOCK,
    SUPERVISOR_LOG,
    supervisor_info,
    trial_dir,
)
from tuitune.engine.snapshot import (
    ExtraMetrics,
    ObjectiveCurves,
    build_history,
    extra_metric_names,
)
from tuitune.engine.budget_edit import current_budget
from tuitune.engine.notifier import Notifier
from tuitune.engine.watch import Watch
from tuitune.engine.warm_start import META_KEY as WARM_START
from tuitune.engine.warm_start import with_imports
from tuitune.engine.space_edit import META_KEY, current_revision, current_space
from tuitune.executors import Executor, TrialHandle, make_executor
from tuitune.executors.base import Exit
from tuitune.executors.launch_token import LAUNCH_TOKEN_ENV, new_token
from tuitune.executors.launcher import become_subreaper
from tuitune.executors.local import process_start_time, reap_strays
from tuitune.core.history import (
    DIVERGED,
    FAILED,
    FINISHED_STATES,
    LIVE_STATES,
    LOST,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    TIMED_OUT,
)
from tuitune.core.spec import Spec, load_spec_json
from tuitune.store import RunStore, StoreError, TrialRecord
from tuitune.core.strategies import build_rules, build_searcher
from tuitune.system import GpuSource, ProcessIdentity

TICK = 0.1  # seconds between loop iterations
TREE_REFRESH = 2.0
DECIDE_INTERVAL = 0.5
FEED_INTERVAL = 0.25  # seconds between reads of trial logs and tweak acks
CLOSE_PATIENCE = 30.0  # seconds close() retries recording how the run ended (disk full)
RUN_DIR_GONE = "run folder deleted"


class AlreadySupervised(RuntimeError):
    pass


class Supervisor(CommandActions):
    """Drives one run. Call `run()` for the loop, or `tick()` step by step in tests."""

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
        self.strategy: str = meta.get("strategy", self.spec.search.strategy)
        self.search_options: dict[str, Any] = meta.get("search_options", {})
        budget = current_budget(self.spec, meta)  # the spec's, changed by hand-offs and `budget`
        self.max_trials: int | None = budget["max_trials"]
        self.max_concurrent: int = budget["max_concurrent"]
        self.trial_timeout: float | None = budget["trial_timeout"]
        self.experiment_timeout: float | None = budget["experiment_timeout"]
        self.space = current_space(self.spec, meta)  # the latest space revision
        self._warm_start = meta.get(WARM_START)
        self._build_searcher()
        self.rules = build_rules(self.spec.stopping, self.spec.space,
                                 self.spec.budget.max_steps, self.spec.search.seed)
        # Remote executors place trials on their nodes' GPUs themselves.
        self.gpus = GpuScheduler(self.spec.resources, gpu_source, clock,
                                 os.environ.get("CUDA_VISIBLE_DEVICES"),
                                 local=self.spec.executor == "local")
        self.reap_orphans = reap_orphans
        self.curves = ObjectiveCurves(self.spec.objective.metric)
        self.extra_metrics = ExtraMetrics(extra_metric_names(self.spec.all_objectives,
                                                             self.spec.constraints))
        self.handles: dict[int, TrialHandle] = {}
        self.plans: dict[int, EndPlan] = {}
        self.feed = TrialFeed(self.store, self.run_dir, self.spec.metrics_source, clock,
                              self.spec.stdout_not_metrics())
        self.exhausted: str | None = None
        self.finished: str | None = None
        # A finished run whose supervisor a hand action started again (client/run_client.py)
        # finishes again once idle, in manual mode too, rather than living on.
        self._finished_before: str | None = (
            meta.get("finished_reason") or "finished") if meta.get("state") == "finished" else None
        self.stopping = False
        self._last_event_id = 0
        self._last_tree = self._last_decide = self._last_beat = self._last_gpu = 0.0
        self._last_feed = 0.0
        self._started_at = meta.get("started_at")
        self._store_error: str | None = None
        self._store_error_since = 0.0
        self._said: set[str] = set()
        self._reaped: dict[int, Exit] = {}  # exits not recorded yet (the store refused)
        self._run_dir_id = _folder_id(self.run_dir)  # deleted or replaced: the run is gone
        self._answers: dict[int, tuple[str, str]] = {}  # command id -> answer not yet written
        self._unresolved: set[int] = set()  # queued trials whose unrecorded start is unknown
        self.boundary = ErrorBoundary(self.store, self.run_dir / SUPERVISOR_LOG, self._say)
        # [notify]: events worth telling (watch.py) and the command that tells them.
        self.notifier = Notifier(self.spec.notify, self.store, self.run_dir, self.spec.workdir,
                                 clock)
        self.watch = Watch(self.spec.notify, self.spec.objective)
        self._last_notify = 0.0
        self._checked_points: dict[int, int] = {}  # per trial: objective points checked

    def _build_searcher(self) -> None:
        # Each space revision reseeds, so a random search does not replay its draws.
        seed = self.spec.search.seed + current_revision(self.store.meta([META_KEY]))
        self.searcher = build_searcher(self.strategy, self.space, seed, self.spec.all_objectives,
                                       self.search_options)

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
        self.notifier.start_after(self._last_event_id)  # earlier events were told before
        self.store.add_event("supervisor_started", "engine",
                             f"supervisor pid {os.getpid()} started", data={"pid": os.getpid()})
        self.recover()
        self.watch.baseline((t.id, self._trial_value(t.id)) for t in self.store.trials(
            FINISHED_STATES))

    def recover(self) -> None:
        """Finish what an earlier supervisor left half done (docs/architecture.md,
        "Crash-safe steps"): starts it did not record, trials it left running or
        ending, a stop, commands it took and never answered."""
        self.curves.update(self.store)
        for t in self.store.trials([QUEUED]):
            if t.launch_token:
                self._unresolved.add(t.id)  # never started again until this succeeds
                with self.boundary.guard(f"recovering trial {t.id}'s start"):
                    self._recover_start(t)
                    self._unresolved.discard(t.id)
        for t in self.store.trials(LIVE_STATES):
            with self.boundary.guard(f"recovering trial {t.id}"):
                self._recover_live(t)
        stopping = self.store.meta(["stopping"]).get("stopping")
        if stopping:
            self._stop_trials(stopping)
        self._answer_interrupted()
        self._sweep_clone_copies()

    def _recover_live(self, t: TrialRecord) -> None:
        """Adopt a trial recorded running or paused (finishing its end plan, if it was
        being ended), or record how it ended while no supervisor watched."""
        if t.pid is None or t.pid_start is None:
            self._end(t.id, LOST, "engine", f"trial {t.id} never started properly")
            return
        if t.end_plan:
            self.plans[t.id] = EndPlan.from_store(t.end_plan)
        handle = TrialHandle(t.id, t.pid, t.pid_start, t.node or "local",
                             str(trial_dir(self.run_dir, t.id)), tuple(t.tree))
        if self.executor.adopt(handle):
            self.handles[t.id] = handle
            self.gpus.restore(t.id, t.gpus)
            self.feed.attach(t.id, resume=True)
            self.store.add_event("adopted", "engine",
                                 f"trial {t.id} adopted (pid {t.pid})", trial_id=t.id)
            # Its processes get the state recorded: a pause or unpause may have been
            # recorded but not yet signalled; a trial being ended must be able to exit.
            if t.state == PAUSED and t.id not in self.plans:
                self.executor.pause(handle)
            else:
                self.executor.resume(handle)
            return
        ended = self.executor.poll(handle)
        self.feed.finish(t.id)  # what it printed while no supervisor was reading
        if t.id in self.plans or (ended is not None and ended.code is not None):
            self._record_exit(t, ended or Exit(None), actor="engine")
        else:
            self._end(t.id, LOST, "engine",
                      f"trial {t.id} ended while no supervisor was watching; its metrics "
                      f"are kept; `tuitune requeue` restarts it from its last checkpoint")

    def _recover_start(self, t: TrialRecord) -> None:
        """A start whose intent was recorded but not its outcome: adopt the process it
        made, record how it ended, or start it now if it left no trace. Never twice."""
        assert t.launch_token is not None
        found = self.executor.find_launch(t.id, t.launch_token, trial_dir(self.run_dir, t.id))
        if isinstance(found, TrialHandle):
            self.handles[t.id] = found
            self.gpus.restore(t.id, t.gpus)
            self.feed.attach(t.id, resume=True)
            self._record_started(t.id, found, t.gpus, "adopted: its start was not recorded "
                                 "before the supervisor stopped")
            return
        if isinstance(found, Exit) and found.code is not None:
            self.feed.finish(t.id)
            self._record_exit(t, found, actor="engine")
            return
        if found is not None or self._left_traces(t.id):
            self._end(t.id, LOST, "engine",
                      f"trial {t.id} ran while no supervisor was watching its start and its "
                      "end is unknown; it is not started twice: its metrics are kept and "
                      "`tuitune requeue` restarts it")
            return
        self.store.update_trial(t.id, launch_token=None)
        self.store.add_event("start_retried", "engine",
                             f"trial {t.id} was about to start when the supervisor stopped; "
                             "it starts now", trial_id=t.id)

    def _left_traces(self, tid: int) -> bool:
        log = trial_dir(self.run_dir, tid) / "log.txt"
        return bool(self.store.metrics(trial_id=tid, limit=1)) or (
            log.exists() and log.stat().st_size > 0)

    def run(self) -> str:
        """Loop until the experiment is finished; returns why it finished."""
        arm_from_env()
        self.register()
        while self.finished is None:
            self.tick()
            time.sleep(TICK)
        self.feed.drain()  # output of ended trials still unread (read in chunks so far)
        with self.boundary.guard("the last notifications"):
            self._notify(self.clock(), force=True)
            self.notifier.drain()
        self.close()
        return self.finished

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
        handles = list(self.handles.values())
        _tell_stderr(f"tuitune: the run folder {self.run_dir} was deleted while the run was "
                     f"live; ending its {len(handles)} running trial(s) and exiting")
        for handle in handles:
            self.executor.terminate(handle)
        if not self._wait_ended(handles, self.spec.kill_grace):
            for handle in handles:
                self.executor.kill(handle)
            self._wait_ended(handles, 10.0)
        self.handles.clear()
        self.plans.clear()
        self.finished = RUN_DIR_GONE

    def _wait_ended(self, handles: list[TrialHandle], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            alive = [h for h in handles
                     if self.executor.poll(h) is None or self.executor.tree_alive(h)]
            if not alive or time.monotonic() >= deadline:
                return not alive
            time.sleep(0.05)

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
        return [
            ("commands", self._handle_commands),
            ("executor", lambda: self.executor.pump(self.store)),
            ("watching trials", lambda: self._watch_processes(now)),
            ("reading trial output", lambda: self._read_feed(now)),
            ("stopping rules", lambda: self._decide(now)),
            ("time caps", lambda: self._enforce_time_caps(now)),
            ("search", self._fill_from_search),
            ("starting trials", self._launch_queued),
            ("process trees", lambda: self._refresh_trees(now)),
            ("heartbeat", lambda: self._beat(now)),
            ("GPUs", lambda: self._watch_gpus(now)),
            ("finish", self._check_finished),
            ("events", self._echo_events),
            ("notifications", lambda: self._notify(now)),
            ("reaping", self._reap),
        ]

    def _read_feed(self, now: float) -> None:
        if now - self._last_feed >= FEED_INTERVAL:
            self._last_feed = now
            self.feed.read()
            self.feed.note_acks()

    def _decide(self, now: float) -> None:
        touched = self.curves.update(self.store)
        if touched or now - self._last_decide > DECIDE_INTERVAL * 4:
            self._check_nonfinite(touched)
            if now - self._last_decide >= DECIDE_INTERVAL:
                self._last_decide = now
                self._apply_rules()

    def _beat(self, now: float) -> None:
        if now - self._last_beat >= 1.0:
            self._last_beat = now
            self.store.set_meta(heartbeat=now)

    def _watch_gpus(self, now: float) -> None:
        if self.gpus.has_gpus and now - self._last_gpu >= 1.0:
            self._last_gpu = now
            self._sample_gpus()
        self._record_gpu_events()

    def _reap(self) -> None:
        if self.reap_orphans:
            # Notify commands are ours to wait for too (their exit status says if they failed).
            reap_strays({h.pid for h in self.handles.values()} | self.notifier.pids)

    # -- notifications ------------------------------------------------------------------
    def _trial_value(self, trial_id: int) -> float | None:
        return self.spec.objective.best([v for _, v in self.curves.curves.get(trial_id, [])])

    def _notify(self, now: float, force: bool = False) -> None:
        """Record what the watch sees (new best, stalled, GPU idle), then let the
        notifier tell the events chosen in `[notify] on`."""
        if not self.spec.notify.enabled or (now - self._last_notify < 0.5 and not force):
            return
        self._last_notify = now
        trials = self.store.trials()
        seen = self.watch.new_best((t.id, t.state, self._trial_value(t.id)) for t in trials)
        running = [t for t in trials if t.state == RUNNING]
        seen += self.watch.stalled([(t.id, t.started_at) for t in running],
                                   {t.id: len(self.curves.curves.get(t.id, ())) for t in running},
                                   now)
        snapshot = self.gpus.snapshot if self.gpus.has_gpus else None
        if snapshot is not None:
            busy: dict[int, list[int]] = {}
            for t in running:
                for g in (t.gpus or "").split(","):
                    if g.strip().isdigit():
                        busy.setdefault(int(g), []).append(t.id)
            seen += self.watch.gpu_idle(busy, {g.index: g.util_pct for g in snapshot.gpus},
                                        now)
        for s in seen:
            if s.kind in self.spec.notify.on:
                self.store.add_event(s.kind, "watch", s.message, trial_id=s.trial_id,
                                     data=s.data)
        self.notifier.poll(now)

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

    # -- processes ----------------------------------------------------------------------
    def _launch_queued(self) -> None:
        for t in self.store.trials([QUEUED]):
            if t.id in self.handles:  # started, but recording it failed: record it now
                self._record_started(t.id, self.handles[t.id], t.gpus)
                continue
            if t.id in self._unresolved:
                continue  # it may be running: a second start could run it twice
            if self._running_count() >= self.max_concurrent or self.finished or self.stopping:
                return
            decision = self.gpus.assign(t.id, self.gpus.peak_mb())
            if isinstance(decision, GpuWait):
                self._say_once(f"wait-gpu-{t.id}-{decision.reason}",
                               f"trial {t.id} waits: {decision.reason}")
                return
            with self.boundary.guard(f"starting trial {t.id}"):
                self._start(t, decision.gpu_ids)

    def _start(self, t: TrialRecord, gpus: Sequence[int] | None) -> None:
        """Record the intent (a fresh launch token, which the trial's processes carry
        in their environment), spawn, then record the start. A supervisor killed in
        between leaves the token; the next one finds the processes by it."""
        gpu_text = ",".join(map(str, gpus)) if gpus else None
        token = new_token()
        try:
            initial = Path(t.initial_checkpoint) if t.initial_checkpoint else None
            request = build_launch(self.spec, self.run_dir, t.id, t.params, gpus, initial,
                                   t.clone_step or 0)
            request = replace(request, env={**request.env, LAUNCH_TOKEN_ENV: token})
            self.store.update_trial(t.id, launch_token=token, gpus=gpu_text)
            crash_point("start.intent")
            handle = self.executor.start(request)
        except StoreError:
            self._release_gpus(t.id)
            raise
        except Exception as exc:  # OSError, or a value the OS refuses (a NUL byte)
            self._release_gpus(t.id)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise  # the trial stays queued; tick() says so and tries again
            self._end(t.id, FAILED, "engine", f"trial {t.id} could not start: {exc}")
            return
        crash_point("start.spawned")
        self.handles[t.id] = handle
        self.feed.attach(t.id)
        self._record_started(t.id, handle, gpu_text)
        crash_point("start.recorded")

    def _record_started(self, tid: int, handle: TrialHandle, gpus: str | None,
                        how: str = "started") -> None:
        self.store.transition(
            tid, RUNNING, "engine", f"trial {tid} {how} (pid {handle.pid}"
            + (f", GPU {gpus}" if gpus else "") + ")",
            pid=handle.pid, pid_start=handle.pid_start, node=handle.node,
            started_at=self.clock(), gpus=gpus,
        )

    def _release_gpus(self, tid: int) -> None:
        handle = self.handles.get(tid)
        pids = frozenset({handle.pid, *(p for p, _ in handle.descendants)}) if handle else (
            frozenset())
        self.gpus.release(tid, pids)

    def _sample_gpus(self) -> None:
        roots = {tid: ProcessIdentity(h.pid, h.pid_start) for tid, h in self.handles.items()}
        for tid, peak in self.gpus.sample(roots).items():
            self.store.update_trial(tid, peak_gpu_mem_mb=peak)

    def _record_gpu_events(self) -> None:
        while self.gpus.events:
            tid, kind, message = self.gpus.events.pop(0)
            self.store.add_event(kind, "engine", message, trial_id=tid)

    def _say_once(self, key: str, line: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.store.add_event("waiting", "engine", line)

    def _running_count(self) -> int:
        return len(self.handles)

    def _watch_processes(self, now: float) -> None:
        for tid, handle in list(self.handles.items()):
            with self.boundary.guard(f"watching trial {tid}"):
                self._watch(tid, handle, now)

    def _watch(self, tid: int, handle: TrialHandle, now: float) -> None:
        plan = self.plans.get(tid)
        if plan and not plan.termed and now >= plan.term_at:
            self.executor.terminate(handle)
            crash_point("end.termed")
            plan.termed = True
            self.store.update_trial(tid, end_plan=plan.to_store())
        if plan and now >= plan.kill_at:
            self.executor.kill(handle)
            crash_point("end.killed")
        ended = self._reaped.get(tid) or self.executor.poll(handle)
        if ended is None:
            return
        self._reaped[tid] = ended  # until recorded: a full disk may refuse the record
        if plan and self._tree_alive(handle):
            return  # the leader exited; wait for the rest of the tree to die
        crash_point("end.exited")
        trial = self.store.trial(tid)
        assert trial is not None
        self.feed.finish(tid)
        self._record_exit(trial, ended, actor="engine")
        self._reaped.pop(tid, None)

    def _tree_alive(self, handle: TrialHandle) -> bool:
        return self.executor.tree_alive(self.executor.refresh_tree(handle))

    def _record_exit(self, trial: TrialRecord, ended: Exit, actor: str) -> None:
        tid = trial.id
        plan = self.plans.get(tid)  # _end drops it once the end is recorded
        if plan is not None:
            self._end(tid, plan.state, plan.actor, plan.message, plan.data,
                      exit_code=ended.code)
            return
        outcome = classify_exit(tid, ended, self.curves.curves.get(tid, []),
                                self.spec.objective.metric,
                                log_tail(trial_dir(self.run_dir, tid) / "log.txt", 20),
                                trial.node)
        self._end(tid, outcome.state, actor, outcome.message, **outcome.fields)

    def _end(self, tid: int, state: str, actor: str, message: str,
             data: dict[str, Any] | None = None, **fields: Any) -> None:
        # Recorded first: if the store refuses (disk full), all stays as it was, to retry.
        self.store.transition(tid, state, actor, message, data, ended_at=self.clock(), **fields)
        self._release_gpus(tid)
        self.handles.pop(tid, None)
        self.plans.pop(tid, None)
        self.feed.detach(tid)

    def _plan_end(self, tid: int, state: str, actor: str, message: str,
                  data: dict[str, Any] | None = None, immediate: bool = False) -> None:
        """End a running trial: ask it to stop (unless immediate), then SIGTERM,
        then SIGKILL after the spec's grace period. The plan is stored before any
        signal, so a new supervisor finishes it."""
        if tid in self.plans or tid not in self.handles:
            return
        now = self.clock()
        # A trial asked to stop gets the grace period to finish cleanly (Keras still
        # validates and saves), then SIGTERM, then SIGKILL after another grace period.
        term_at = now if immediate else now + self.spec.kill_grace
        plan = EndPlan(state, actor, message, data, term_at, term_at + self.spec.kill_grace)
        self.store.update_trial(tid, end_plan=plan.to_store(),
                                **({} if immediate else {"stop_requested": 1}))
        self.plans[tid] = plan
        crash_point("end.planned")
        trial = self.store.trial(tid)
        if trial is not None and trial.state == PAUSED:
            self.executor.resume(self.handles[tid])  # a stopped process cannot exit

    def _refresh_trees(self, now: float) -> None:
        if now - self._last_tree < TREE_REFRESH:
            return
        self._last_tree = now
        for fresh in self.executor.refresh_trees(list(self.handles.values())):
            if fresh.descendants != self.handles[fresh.trial_id].descendants:
                self.handles[fresh.trial_id] = fresh
                self.store.update_trial(fresh.trial_id,
                                        tree=[list(d) for d in fresh.descendants])

    def _enforce_time_caps(self, now: float) -> None:
        cap = self.trial_timeout
        if cap:
            for t in self.store.trials([RUNNING]):
                if t.started_at and now - t.started_at > cap and t.id not in self.plans:
                    self._plan_end(t.id, TIMED_OUT, "budget",
                                   f"trial {t.id} timed out after {cap:g}s", immediate=True)
        total = self.experiment_timeout
        if total and self._started_at and now - self._started_at > total and not (
                self.finished or self.stopping):
            self.store.add_event("timeout", "budget", f"experiment time cap ({total:g}s) reached")
            self.stop_experiment("budget")

    # -- search and stopping ------------------------------------------------------------------
    def _history(self):
        self.extra_metrics.update(self.store)
        return build_history(self.store, self.spec.objective, self.curves, self.clock(),
                             self.spec.budget.max_steps, self.spec.all_objectives,
                             self.spec.constraints, self.extra_metrics)

    def _check_nonfinite(self, touched: set[int]) -> None:
        """NaN or inf in the objective means the trial diverged: stop it at once."""
        for tid in touched:
            curve = self.curves.curves.get(tid)
            # Every point read since the last look, not only the last one: a NaN followed
            # by a finite value in the same batch of reports is a divergence too.
            seen, self._checked_points[tid] = self._checked_points.get(tid, 0), len(curve or ())
            bad = next(((s, v) for s, v in (curve or [])[seen:] if not math.isfinite(v)), None)
            if bad is None or tid not in self.handles:
                continue
            trial = self.store.trial(tid)
            if trial is None or trial.protected:
                continue
            step, value = bad
            self._plan_end(tid, DIVERGED, "engine",
                           f"trial {tid} diverged: {self.spec.objective.metric} = {value} "
                           f"at step {step}", {"step": step, "value": str(value)})

    def _apply_rules(self) -> None:
        if not self.rules or not self.handles:
            return
        history = self._history()
        for rule in self.rules:
            for decision in rule.decide(history):
                with self.boundary.guard(f"acting on {rule.__class__.__name__}'s decision"):
                    self._act(decision, history)

    def _act(self, decision: Stop | Exploit, history) -> None:
        if isinstance(decision, Stop):
            view = history.get(decision.trial_id)
            if view is None or view.protected or decision.trial_id in self.plans:
                return
            self._plan_end(decision.trial_id, decision.state, f"stopping rule {decision.rule}",
                           f"trial {decision.trial_id} {decision.state}: {decision.reason}",
                           dict(decision.details))
        elif isinstance(decision, Exploit):
            target = history.get(decision.target_id)
            if target is None or target.protected or decision.target_id in self.plans:
                return
            self._plan_end(decision.target_id, PRUNED, "pbt",
                           f"trial {decision.target_id} replaced: {decision.reason}",
                           {"source": decision.source_id})
            params = self.spec.space.validate(dict(decision.params), partial=True)
            self.clone(decision.source_id, params, True, "pbt", origin="pbt")

    def _budget_left(self) -> int | None:
        if self.max_trials is None:
            return None
        return self.max_trials - budget_used(self.store)

    def _fill_from_search(self) -> None:
        if self.searcher is None or self.exhausted or self.finished or self.stopping:
            return
        queued = self.store.count_trials([QUEUED])
        free = self.max_concurrent - self._running_count() - queued
        left = self._budget_left()
        if free <= 0 or (left is not None and left <= 0):
            return
        # Trials imported from earlier runs (--warm-start) are observations, not trials.
        self.searcher.sync(with_imports(self._history(), self._warm_start))
        for _ in range(free if left is None else min(free, left)):
            decision = self.searcher.ask()
            if isinstance(decision, Wait):
                # Asked again next tick; a finished trial lets it go on. Said once per
                # reason, so a slot left empty (e.g. behind a paused trial) is explained.
                self._say_once(f"search-wait-{decision.reason}", f"search waits: {decision.reason}")
                return
            if isinstance(decision, Exhausted):
                self.exhausted = decision.reason
                self.store.add_event("exhausted", "search", f"search done: {decision.reason}")
                return
            assert isinstance(decision, Suggest)
            self.store.create_trial(dict(decision.params), decision.origin, "search",
                                    message=f"trial {{id}} suggested by {decision.origin}"
                                            + (f": {decision.reason}" if decision.reason else ""))

    def _check_finished(self) -> None:
        # The event first: if the store refuses it (disk full), the next tick tries again.
        if self.stopping:
            if not self.handles:
                self.store.add_event("finished", "engine", "experiment stopped",
                                     data={"stopped": True})
                self.finished = "stopped"
            return
        if self.finished or self.handles or self.store.count_trials([QUEUED]):
            return
        if self.store.pending_commands():
            return  # e.g. a new trial for a finished run, sent as it was finishing
        left = self._budget_left()
        reason = "budget used" if left is not None and left <= 0 else self.exhausted
        if not reason and self.searcher is None and self._finished_before:
            reason = self._finished_before  # the hand actions that revived it are done
        if reason:
            self.store.add_event("finished", "engine", f"experiment finished: {reason}")
            self.finished = reason


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
