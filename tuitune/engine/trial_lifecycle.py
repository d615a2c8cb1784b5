"""The trial lifecycle, the supervisor's part that starts, watches, ends and adopts trials.

It owns what the supervisor knows about live trial processes: their handles, the end
plans being carried out, exits not yet recorded, starts whose outcome is unknown, and the
feed of their output. Every step records its intent in the store before it acts
(docs/architecture.md, "Crash-safe steps"), so a supervisor killed at any line leaves
what `recover` needs to finish or undo it.
"""

from __future__ import annotations

import errno
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuitune.core.history import (
    ACTIVE_STATES,
    FAILED,
    KILLED,
    LIVE_STATES,
    LOST,
    PAUSED,
    QUEUED,
    RUNNING,
    TIMED_OUT,
    describe_params,
)
# Messages and events are read by people: numbers by the one rule (0.005, not
# 0.005000000000000001); the exact values are in the events' data, `export` and `--json`.
from tuitune.core.numfmt import value as shown
from tuitune.core.spec import Spec
from tuitune.engine.boundary import ErrorBoundary
from tuitune.engine.command_kind import CommandError
from tuitune.engine.crash_points import crash_point
from tuitune.engine.end_plan import EndPlan
from tuitune.engine.feed import TrialFeed
from tuitune.engine.gpu_alloc import GpuWait
from tuitune.engine.launch import build_launch
from tuitune.engine.logs import log_tail
from tuitune.engine.notices import Notices
from tuitune.engine.outcomes import classify_exit
from tuitune.engine.placement import GpuPlacement
from tuitune.engine.runs import trial_dir
from tuitune.engine.snapshot import ObjectiveCurves
from tuitune.executors import Executor, TrialHandle
from tuitune.executors.base import Exit
from tuitune.executors.launch_token import LAUNCH_TOKEN_ENV, new_token
from tuitune.executors.local import reap_strays
from tuitune.store import RunStore, StoreError, TrialRecord

TREE_REFRESH = 2.0  # seconds between refreshes of the trials' process trees
FEED_INTERVAL = 0.25  # seconds between reads of trial logs and tweak acks
CLONE_PREFIX = "clone-"  # trials/clone-TOKEN/: a checkpoint copied for a clone


class TrialLifecycle:
    """Start, watch, end and adopt trials. `handles` are the trials whose processes
    this supervisor watches; `stopping` is set once the experiment is being stopped."""

    def __init__(self, store: RunStore, spec: Spec, run_dir: Path, executor: Executor,
                 placement: GpuPlacement, curves: ObjectiveCurves, boundary: ErrorBoundary,
                 notices: Notices, clock: Callable[[], float] = time.time,
                 reap_orphans: bool = False) -> None:
        self.store, self.spec, self.run_dir = store, spec, run_dir
        self.executor, self.placement, self.curves = executor, placement, curves
        self.boundary, self.notices, self.clock = boundary, notices, clock
        self.reap_orphans = reap_orphans
        self.handles: dict[int, TrialHandle] = {}
        self.plans: dict[int, EndPlan] = {}
        self.feed = TrialFeed(store, run_dir, spec.metrics_source, clock,
                              spec.stdout_not_metrics())
        self.stopping = False
        self._reaped: dict[int, Exit] = {}  # exits not recorded yet (the store refused)
        self._unresolved: set[int] = set()  # queued trials whose unrecorded start is unknown
        self._last_tree = self._last_feed = 0.0

    def running_count(self) -> int:
        return len(self.handles)

    # -- adopting what an earlier supervisor left ---------------------------------------------
    def recover(self) -> None:
        """Starts an earlier supervisor did not record, trials it left running or ending,
        a stop it did not finish, copies made for clones it did not record."""
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
        self._sweep_clone_copies()

    def _recover_live(self, t: TrialRecord) -> None:
        """Adopt a trial recorded running or paused (finishing its end plan, if it was
        being ended), or record how it ended while no supervisor watched."""
        if t.pid is None or t.pid_start is None:
            self.end(t.id, LOST, "engine", f"trial {t.id} never started properly")
            return
        if t.end_plan:
            self.plans[t.id] = EndPlan.from_store(t.end_plan)
        handle = TrialHandle(t.id, t.pid, t.pid_start, t.node or "local",
                             str(trial_dir(self.run_dir, t.id)), tuple(t.tree))
        if self.executor.adopt(handle):
            self.handles[t.id] = handle
            self.placement.restore(t.id, t.gpus)
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
            self.end(t.id, LOST, "engine",
                     f"trial {t.id} ended while no supervisor was watching; its metrics "
                     f"are kept; `tuitune requeue` restarts it from its last checkpoint")

    def _recover_start(self, t: TrialRecord) -> None:
        """A start whose intent was recorded but not its outcome: adopt the process it
        made, record how it ended, or start it now if it left no trace. Never twice."""
        assert t.launch_token is not None
        found = self.executor.find_launch(t.id, t.launch_token, trial_dir(self.run_dir, t.id))
        if isinstance(found, TrialHandle):
            self.handles[t.id] = found
            self.placement.restore(t.id, t.gpus)
            self.feed.attach(t.id, resume=True)
            self._record_started(t.id, found, t.gpus, "adopted: its start was not recorded "
                                 "before the supervisor stopped")
            return
        if isinstance(found, Exit) and found.code is not None:
            self.feed.finish(t.id)
            self._record_exit(t, found, actor="engine")
            return
        if found is not None or self._left_traces(t.id):
            self.end(t.id, LOST, "engine",
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

    # -- starting ------------------------------------------------------------------------------
    def launch_queued(self, max_concurrent: int, may_start: bool) -> None:
        """Start queued trials while there is room (`may_start`: the run is not ending)."""
        for t in self.store.trials([QUEUED]):
            if t.id in self.handles:  # started, but recording it failed: record it now
                self._record_started(t.id, self.handles[t.id], t.gpus)
                continue
            if t.id in self._unresolved:
                continue  # it may be running: a second start could run it twice
            if self.running_count() >= max_concurrent or not may_start or self.stopping:
                return
            decision = self.placement.assign(t.id)
            if isinstance(decision, GpuWait):
                self.notices.say_once(f"wait-gpu-{t.id}-{decision.reason}",
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
            self.placement.release(t.id, self.handles.get(t.id))
            raise
        except Exception as exc:  # OSError, or a value the OS refuses (a NUL byte)
            self.placement.release(t.id, self.handles.get(t.id))
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise  # the trial stays queued; tick() says so and tries again
            self.end(t.id, FAILED, "engine", f"trial {t.id} could not start: {exc}")
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

    # -- watching ------------------------------------------------------------------------------
    def watch(self, now: float) -> None:
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

    def read_output(self, now: float) -> None:
        if now - self._last_feed >= FEED_INTERVAL:
            self._last_feed = now
            self.feed.read()
            self.feed.note_acks()

    def refresh_trees(self, now: float) -> None:
        if now - self._last_tree < TREE_REFRESH:
            return
        self._last_tree = now
        for fresh in self.executor.refresh_trees(list(self.handles.values())):
            if fresh.descendants != self.handles[fresh.trial_id].descendants:
                self.handles[fresh.trial_id] = fresh
                self.store.update_trial(fresh.trial_id,
                                        tree=[list(d) for d in fresh.descendants])

    def enforce_trial_timeout(self, now: float, cap: float | None) -> None:
        """End running trials that have run longer than `cap` seconds (the budget's)."""
        if cap:
            for t in self.store.trials([RUNNING]):
                if t.started_at and now - t.started_at > cap and t.id not in self.plans:
                    self.plan_end(t.id, TIMED_OUT, "budget",
                                  f"trial {t.id} timed out after {cap:g}s", immediate=True)

    def reap(self, also: Iterable[int] = ()) -> None:
        """Wait for orphans re-parented to us; the trials' own and `also` are left alone."""
        if self.reap_orphans:
            reap_strays({h.pid for h in self.handles.values()} | set(also))

    # -- ending --------------------------------------------------------------------------------
    def _record_exit(self, trial: TrialRecord, ended: Exit, actor: str) -> None:
        tid = trial.id
        plan = self.plans.get(tid)  # end() drops it once the end is recorded
        if plan is not None:
            self.end(tid, plan.state, plan.actor, plan.message, plan.data,
                     exit_code=ended.code)
            return
        outcome = classify_exit(tid, ended, self.curves.curves.get(tid, []),
                                self.spec.objective.metric,
                                log_tail(trial_dir(self.run_dir, tid) / "log.txt", 20),
                                trial.node)
        self.end(tid, outcome.state, actor, outcome.message, **outcome.fields)

    def end(self, tid: int, state: str, actor: str, message: str,
            data: dict[str, Any] | None = None, **fields: Any) -> None:
        """Record how a trial ended and forget its process."""
        # Recorded first: if the store refuses (disk full), all stays as it was, to retry.
        self.store.transition(tid, state, actor, message, data, ended_at=self.clock(), **fields)
        self.placement.release(tid, self.handles.get(tid))
        self.handles.pop(tid, None)
        self.plans.pop(tid, None)
        self.feed.detach(tid)

    def plan_end(self, tid: int, state: str, actor: str, message: str,
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

    def kill(self, trial_id: int, actor: str, message: str, *,
             queued_message: str | None = None) -> None:
        """End a trial now: a queued one is dropped, a live one gets an end plan."""
        trial = self.store.trial(trial_id)
        assert trial is not None
        if trial.state == QUEUED:
            self.end(trial_id, KILLED, actor, queued_message or message)
        else:
            self.plan_end(trial_id, KILLED, actor, message, immediate=True)

    def stop_experiment(self, actor: str) -> None:
        # Recorded first: a new supervisor finishes a stop it finds (recover).
        self.store.set_meta(stopping=actor)
        self._stop_trials(actor)
        self.store.add_event("stop", actor, "experiment stopping")

    def _stop_trials(self, actor: str) -> None:
        for t in self.store.trials(ACTIVE_STATES):
            self.kill(t.id, actor, f"trial {t.id} killed: experiment stopped",
                      queued_message=f"trial {t.id} dropped: experiment stopped")
        self.stopping = True  # the loop goes on until every trial's process is gone

    def abandon(self) -> None:
        """The run folder is gone: end every trial's processes, recording nothing."""
        handles = list(self.handles.values())
        for handle in handles:
            self.executor.terminate(handle)
        if not self._wait_ended(handles, self.spec.kill_grace):
            for handle in handles:
                self.executor.kill(handle)
            self._wait_ended(handles, 10.0)
        self.handles.clear()
        self.plans.clear()

    def _wait_ended(self, handles: list[TrialHandle], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            alive = [h for h in handles
                     if self.executor.poll(h) is None or self.executor.tree_alive(h)]
            if not alive or time.monotonic() >= deadline:
                return not alive
            time.sleep(0.05)

    # -- pause, unpause, clone -----------------------------------------------------------------
    # Pause and unpause record the new state first, then signal: a new supervisor
    # signals every adopted trial into its recorded state (recover).
    def pause(self, trial_id: int, actor: str) -> None:
        self.store.transition(trial_id, PAUSED, actor, f"trial {trial_id} paused")
        crash_point("pause.recorded")
        self.executor.pause(self.handles[trial_id])
        crash_point("pause.signalled")

    def unpause(self, trial_id: int, actor: str) -> None:
        self.store.transition(trial_id, RUNNING, actor, f"trial {trial_id} resumed")
        crash_point("unpause.recorded")
        self.executor.resume(self.handles[trial_id])
        crash_point("unpause.signalled")

    def clone(self, source_id: int, changes: Mapping[str, Any], from_checkpoint: bool,
              actor: str, origin: str = "clone") -> tuple[int, str]:
        """Copy the checkpoint first, then record the clone pointing at the copy: a
        crash in between leaves only an unreferenced copy (removed on recovery).
        Returns the new trial's id and the line that answers the command."""
        source = self.store.trial(source_id)
        assert source is not None
        # A changed parent may switch conditional parameters on (at their defaults)
        # or off.
        params = self.spec.space.complete({**self.store.current_params(source), **changes})
        step = source.checkpoint_step if from_checkpoint else None
        changed = {k: v for k, v in changes.items() if source.params.get(k) != v}
        how = f"from its checkpoint at step {step}" if step is not None else "from scratch"
        initial = None
        if from_checkpoint:
            initial = self._copy_checkpoint(source)
            crash_point("clone.copied")
        new_id = self.store.create_trial(
            params, origin, actor, parent_id=source.id, clone_step=step,
            from_checkpoint=from_checkpoint, initial_checkpoint=initial,
            message=f"trial {{id}} cloned from trial {source.id} {how}"
                    + (f", changed {describe_params(changed, value=shown)}" if changed else ""),
            data={"parent": source.id, "changed": changed, "step": step},
        )
        crash_point("clone.recorded")
        return new_id, (f"trial {new_id} cloned from trial {source.id} {how}: "
                        f"{describe_params(params, value=shown)}")

    def _copy_checkpoint(self, source: TrialRecord) -> str:
        """A snapshot (the source keeps overwriting its latest checkpoint) in a folder
        of its own, `trials/clone-TOKEN/initial_checkpoint/`; returns the copy's path."""
        src = Path(source.checkpoint or "")
        if not src.exists():
            raise CommandError(f"trial {source.id}'s checkpoint {src} is gone")
        folder = self.run_dir / "trials" / f"{CLONE_PREFIX}{new_token()}"
        dest = folder / "initial_checkpoint"
        folder.mkdir(mode=0o700)
        try:
            dest.mkdir(mode=0o700)
            if src.is_dir():
                shutil.copytree(src, dest / src.name)
            else:
                shutil.copy2(src, dest / src.name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return str(dest / src.name)

    def _sweep_clone_copies(self) -> None:
        """Remove copies made for clones that a crash kept from being recorded."""
        used = {Path(t.initial_checkpoint).parent.parent for t in self.store.trials()
                if t.initial_checkpoint}
        for folder in (self.run_dir / "trials").glob(f"{CLONE_PREFIX}*"):
            if folder.is_dir() and not folder.is_symlink() and folder not in used:
                shutil.rmtree(folder, ignore_errors=True)
