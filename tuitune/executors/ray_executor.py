"""The Ray executor: trials run on any node of a Ray cluster; the supervisor and the
run store stay on this machine.

    [executor]
    kind = "ray"
    address = "HEAD:6379"            # or "auto"; `tuitune run --ray ADDRESS` sets it
    resources = {node2 = 0.01}        # custom Ray resources each trial asks for (pinning)
    num_cpus = 1                      # CPUs each trial reserves (default 1)
    num_gpus = 0.5                    # default: the spec's resources.gpus_per_trial
    checkpoint_root = "/shared/ckpt"  # a folder every node and this machine see at
                                      # the same path; "run": the run folder itself
    node_root = "/scratch/tuitune"    # where trial folders go on nodes (default: /tmp)

Each trial is one `TrialRunner` actor (tuitune.executors.ray_node) on its node. The
actor starts the trial with the local executor's own code (launcher, process
group, signals) and relays its reports; `pump()`, called by the supervisor every
tick, collects them without blocking (ray.wait with no timeout) and writes them
to the store, and pushes stop requests and tweaks back out. Actors are named and
detached, so a restarted supervisor adopts the trials its predecessor left.

Ray is imported only when this executor is used: `pip install "tuitune[ray]"`.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from tuitune.core.history import LIVE_STATES
from tuitune.executors import ray_placement as placing
from tuitune.executors.base import Executor, Exit, LaunchRequest, TrialHandle
from tuitune.executors.ray_checkpoints import CheckpointRoot
from tuitune.executors.ray_node import NodeAgent, TrialRunner
from tuitune.executors.ray_sampling import ClusterNodes
from tuitune.executors.ray_trial import PENDING, Phase, RemoteTrial
from tuitune.in_trial.ray_sink import DEFAULT_LIMIT_MB

NAMESPACE = "tuitune"
PULL_WAIT = 0.5  # a pull waits this long on the node for something to say
CONTROL_INTERVAL = 0.2  # seconds between pushes of stop requests and tweaks
RETRY_AFTER = 1.0  # seconds before asking an unreachable actor again
RELEASE_AFTER = 1.0  # an ended trial the supervisor stopped polling is released after this
START_WAIT = 5.0  # seconds start() waits for a trial to start where a node has room
SIGNAL_WAIT = 1.0  # seconds to wait for a signal to reach the node

_OPTIONS = {"address", "resources", "num_cpus", "num_gpus", "checkpoint_root", "node_root",
            "namespace", "relay_limit_mb", "start_timeout"}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError('the Ray executor needs Ray: pip install "tuitune[ray]"') from None
    return ray


class RayExecutor(Executor):
    """Starts each trial as a process on a Ray node, through a small actor there."""

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown [executor] option(s) for ray: {', '.join(sorted(unknown))}"
                             f" (known: {', '.join(sorted(_OPTIONS))})")
        self.address: str | None = options.get("address")
        self.placement = placing.Placement(
            num_cpus=float(options.get("num_cpus", 1)),
            num_gpus=None if options.get("num_gpus") is None else float(options["num_gpus"]),
            resources={str(k): float(v) for k, v in
                       dict(options.get("resources") or {}).items()},
            node_root=options.get("node_root"))
        self.checkpoints = CheckpointRoot(options.get("checkpoint_root"))
        self.namespace = str(options.get("namespace", NAMESPACE))
        self.relay_limit_mb = float(options.get("relay_limit_mb", DEFAULT_LIMIT_MB))
        timeout = options.get("start_timeout")  # how long a trial may wait for a node
        self.start_timeout: float | None = None if timeout is None else float(timeout)
        self._ray: Any = None
        self._runner_cls: Any = None
        self._driver_node: str | None = None
        self._cluster: ClusterNodes | None = None
        self._trials: dict[int, RemoteTrial] = {}
        self._done: dict[int, Exit] = {}
        self._fire: list[Any] = []  # control pushes and signals: errors are collected
        self._releasing: dict[Any, Any] = {}  # release ref -> actor to kill after
        self._control_version = 0
        self._last_control = 0.0
        self._connect()  # fail now, with a clear message, if the cluster is not there

    # -- connection ----------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = _import_ray()
        if not ray.is_initialized():
            import logging

            _check_reachable(self.address)

            ray.init(address=self.address, namespace=self.namespace, log_to_driver=False,
                     logging_level=logging.WARNING, ignore_reinit_error=True)
        # A waiting pull and a checkpoint copy never hold up a kill: each has its own
        # thread; everything else (start, signals, control) runs in order on one.
        self._runner_cls = ray.remote(concurrency_groups={"relay": 1, "io": 1})(TrialRunner)
        self._cluster = ClusterNodes(ray, ray.remote(NodeAgent))
        self._driver_node = ray.get_runtime_context().get_node_id()
        self._ray = ray
        atexit.register(self._deliver_fired)
        return ray

    @property
    def cluster(self) -> ClusterNodes:
        assert self._cluster is not None
        return self._cluster

    def _deliver_fired(self, timeout: float = 3.0) -> None:
        """At exit: let signals and control pushes already sent reach their nodes."""
        if self._fire and self._ray is not None and self._ray.is_initialized():
            try:
                self._ray.wait(self._fire, num_returns=len(self._fire), timeout=timeout)
            except Exception:
                pass

    # -- the Executor interface ----------------------------------------------------------------
    def start(self, request: LaunchRequest) -> TrialHandle:
        try:
            return self._start(request)
        except OSError:
            raise
        except Exception as exc:  # the engine marks the trial failed and carries on
            raise OSError(f"trial {request.trial_id} could not start on Ray: "
                          f"{_cause(exc)}") from None

    def _start(self, request: LaunchRequest) -> TrialHandle:
        ray = self._connect()
        tid = request.trial_id
        run_dir = request.trial_dir.parent.parent
        request.trial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = placing.actor_name(request.trial_dir, tid)
        try:  # a leftover from an earlier attempt at this trial
            ray.kill(ray.get_actor(name, namespace=self.namespace))
        except ValueError:
            pass
        gpus = self.placement.gpus(
            run_dir, lambda: ray.cluster_resources().get("GPU", 0) > 0)
        actor = self._runner_cls.options(
            name=name, namespace=self.namespace, lifetime="detached",
            num_cpus=self.placement.num_cpus, num_gpus=gpus,
            resources=self.placement.resources or None, max_restarts=0, max_task_retries=0,
        ).remote(tid, self.placement.node_dir(request.trial_dir, tid), self.relay_limit_mb)
        overlay, drop = placing.environment(request, os.environ)
        blob, ckpt_name = self.checkpoints.stage_initial(request, overlay, ray.put)
        shared = self.checkpoints.shared_dir(request)
        starting = actor.start.remote(
            list(request.argv), str(request.cwd), overlay, drop,
            str(shared) if shared else None, sys.executable, str(request.trial_dir),
            blob, ckpt_name)
        now = time.monotonic()
        st = RemoteTrial(actor, TrialHandle(tid, 0, 0.0, PENDING, str(request.trial_dir)),
                         request.trial_dir, starting=starting, waiting_since=now,
                         asks=self.placement.asks(gpus), polled_at=now)
        self._done.pop(tid, None)
        self._trials[tid] = st
        # Where a node has room the trial starts within a second or two: wait for that,
        # so the engine records its pid and node at once. Otherwise it waits in Ray's
        # queue (for a node to free up or join) and the store is told when it starts.
        if self._fits(st.asks) and ray.wait([starting], timeout=START_WAIT)[0]:
            self._take_start(st, None)
            if st.phase is Phase.NEVER_RAN:
                self._trials.pop(tid, None)
                self._kill_actor(actor)
                raise OSError(st.start_error)
        return st.handle

    def _fits(self, asks: dict[str, float]) -> bool:
        try:
            free = self._ray.available_resources()
        except Exception:
            return False
        return placing.fits(asks, free)

    def _take_start(self, st: RemoteTrial, store: Any) -> None:
        ref = st.starting
        tid = st.trial_id
        try:
            info = self._ray.get(ref, timeout=0)
        except Exception as exc:
            self._start_failed(st, f"trial {tid} could not start on Ray: {_cause(exc)}")
            return
        st.placed(TrialHandle(tid, int(info["pid"]), float(info["pid_start"]), info["node"],
                              str(st.trial_dir)), info["node_id"])
        if store is not None:  # it waited for a node: tell the store where it runs now
            store.update_trial(tid, pid=st.handle.pid, pid_start=st.handle.pid_start,
                               node=st.handle.node)
            store.add_event("placed", "engine", f"trial {tid} runs on node {st.handle.node} "
                            f"(pid {st.handle.pid})", trial_id=tid)
        if st.pause_wanted:
            self._fire.append(st.actor.signal.remote("pause"))

    def _start_failed(self, st: RemoteTrial, message: str) -> None:
        """The trial never ran: end it as a command that cannot start (exit 127),
        with the reason in its log like the launcher writes it."""
        with open(st.trial_dir / "log.txt", "a") as fh:
            fh.write(f"tuitune: {message}\n")
        st.never_ran(127, None, message)

    def _kill_actor(self, actor: Any) -> None:
        try:
            self._ray.kill(actor, no_restart=True)
        except Exception:
            pass

    def poll(self, handle: TrialHandle) -> Exit | None:
        st = self._trials.get(handle.trial_id)
        if st is None:
            return self._done.get(handle.trial_id, Exit(None, lost=True))
        now = time.monotonic()
        st.polled_at = now
        if st.phase is Phase.WAITING and self.start_timeout is not None and (
                now - st.waiting_since > self.start_timeout):
            self._kill_actor(st.actor)
            wanted = ", ".join(f"{k}={v:g}" for k, v in st.asks.items() if v)
            self._start_failed(st, f"no Ray node could take trial {handle.trial_id} within "
                               f"{self.start_timeout:g}s (it asks for {wanted})")
        ended = st.outcome()
        if st.phase is Phase.LOST:
            lost = Exit(None, lost=True)
            self._forget(st, lost)
            return lost
        if ended is None or st.checkpoint.ref is not None:
            return None  # its last checkpoint is still being copied here
        if st.exit_returned_at is None:
            st.exit_returned_at = now
        if not st.tree_alive:
            self._release(st, ended)
        return ended

    def tree_alive(self, handle: TrialHandle) -> bool:
        st = self._trials.get(handle.trial_id)
        return bool(st and st.tree_alive)

    def _signal(self, handle: TrialHandle, action: str) -> None:
        st = self._trials.get(handle.trial_id)
        if st is None or not st.has_actor:
            return
        if st.phase is Phase.WAITING:  # nothing runs yet
            if action in ("pause", "resume"):
                st.pause_wanted = action == "pause"
                return
            self._kill_actor(st.actor)
            st.never_ran(None, signal.SIGKILL if action == "kill" else signal.SIGTERM)
            return
        ref = st.actor.signal.remote(action)
        try:  # normally a few ms; an unreachable node must not hold up the loop long
            self._ray.get(ref, timeout=SIGNAL_WAIT)
        except self._ray.exceptions.GetTimeoutError:
            self._fire.append(ref)
        except Exception:
            pass  # the actor is gone: its pull reports the trial lost

    def pause(self, handle: TrialHandle) -> None:
        self._signal(handle, "pause")

    def resume(self, handle: TrialHandle) -> None:
        self._signal(handle, "resume")

    def terminate(self, handle: TrialHandle) -> None:
        self._signal(handle, "terminate")

    def kill(self, handle: TrialHandle) -> None:
        self._signal(handle, "kill")

    def adopt(self, handle: TrialHandle) -> bool:
        """Reconnect to the trial's actor, which outlives a supervisor (detached)."""
        try:
            ray = self._connect()
            actor = ray.get_actor(placing.actor_name(Path(handle.trial_dir), handle.trial_id),
                                  namespace=self.namespace)
            info = ray.get(actor.info.remote(), timeout=30)
        except Exception:
            return False
        waited = handle.pid == 0  # it was waiting for a node when its supervisor died
        if info["pid"] is None or not waited and (
                info["pid"] != handle.pid or abs(float(info["pid_start"]) - handle.pid_start)
                > 0.05):
            self._kill_actor(actor)  # ours, but not the trial the store knows: end it
            return False
        real = TrialHandle(handle.trial_id, int(info["pid"]), float(info["pid_start"]),
                           info["node"], handle.trial_dir)
        st = RemoteTrial(actor, real, Path(handle.trial_dir), phase=Phase.RUNNING,
                         node_id=info["node_id"], polled_at=time.monotonic(),
                         placed_unrecorded=waited)
        st.relay.adopted = True
        self._trials[handle.trial_id] = st
        return True

    def close(self) -> None:
        """Running trials are left running: their actors are detached. Ended trials
        whose actors are still being released are finished now: a detached actor that
        outlives its supervisor would hold its node's CPUs and GPUs for good."""
        self._finish_releases()
        self._trials.clear()

    def _finish_releases(self, timeout: float = 5.0) -> None:
        if not self._releasing or self._ray is None:
            return
        refs = list(self._releasing)
        try:
            self._ray.wait(refs, num_returns=len(refs), timeout=timeout)
        except Exception:
            pass  # kill them anyway
        for actor in self._releasing.values():
            self._kill_actor(actor)
        self._releasing.clear()

    # -- pump: reports in, control out -----------------------------------------------------------
    def pump(self, store: Any) -> None:
        if self._ray is None:
            return
        now = time.monotonic()
        ready = self._ready()
        if ready:
            self._collect_fired(ready)
            self.cluster.collect(ready, store, self._trials)
        for st in list(self._trials.values()):
            if st.starting is not None and st.starting in ready:
                self._take_start(st, store)
            if st.relay.pending is not None and st.relay.pending in ready:
                self._take_pull(st, store, now)
            if st.checkpoint.ref is not None and st.checkpoint.ref in ready:
                self._take_checkpoint(st, store)
        if self.cluster.refresh(now):
            for st in self._trials.values():
                if st.phase is not Phase.NEVER_RAN and self.cluster.died(st.node_id):
                    st.lose(f"node {st.handle.node} died")
        for st in list(self._trials.values()):
            if st.exit_returned_at is not None and now - st.polled_at > RELEASE_AFTER:
                self._release(st, st.outcome() or Exit(None))
                continue
            if st.may_pull(now):
                wait = 0.0 if (st.relay.more or st.exit is not None) else PULL_WAIT
                st.relay.pending = st.actor.pull.options(concurrency_group="relay").remote(
                    st.relay.cursor, wait)
        if now - self._last_control >= CONTROL_INTERVAL:
            self._last_control = now
            self._push_control(store)
        if self.cluster.due(now):
            self.cluster.sample(self._roots_by_node())
            self.cluster.write(store, self._trials_by_node())

    def _ready(self) -> set[Any]:
        """The outstanding calls that have answered (without waiting)."""
        refs = [r for st in self._trials.values()
                for r in (st.relay.pending, st.starting, st.checkpoint.ref) if r is not None]
        refs += self._fire + list(self._releasing) + self.cluster.refs
        if not refs:
            return set()
        return set(self._ray.wait(refs, num_returns=len(refs), timeout=0)[0])

    def _roots_by_node(self) -> dict[str, dict[int, tuple[int, float]]]:
        roots: dict[str, dict[int, tuple[int, float]]] = {}
        for tid, st in self._trials.items():
            roots.setdefault(st.node_id, {})[tid] = (st.handle.pid, st.handle.pid_start)
        return roots

    def _trials_by_node(self) -> dict[str, list[int]]:
        on: dict[str, list[int]] = {}
        for tid, st in self._trials.items():
            on.setdefault(st.node_id, []).append(tid)
        return on

    def _take_pull(self, st: RemoteTrial, store: Any, now: float) -> None:
        ray = self._ray
        relay = st.relay
        ref, relay.pending = relay.pending, None
        try:
            answer = ray.get(ref, timeout=0)
        except ray.exceptions.ActorUnavailableError:
            relay.retry_at = now + RETRY_AFTER  # restarting or briefly cut off: ask again
            return
        except ray.exceptions.RayActorError as exc:
            st.lose(self._why_lost(st, exc))
            return
        except Exception as exc:  # a bug or a broken folder on the node: say it once
            self._say(st, store, "pull", f"trial {st.trial_id}: cannot read its reports "
                      f"on node {st.handle.node}: {_cause(exc)}")
            relay.retry_at = now + RETRY_AFTER
            return
        tid = st.trial_id
        points = answer["points"]
        if st.placed_unrecorded:
            st.placed_unrecorded = False
            store.update_trial(tid, pid=st.handle.pid, pid_start=st.handle.pid_start,
                               node=st.handle.node)
        if relay.adopted:  # what an earlier supervisor stored may come again once
            relay.adopted = False
            stored: dict[str, int] = {}
            for p in store.metrics(trial_id=tid):
                stored[p.name] = max(stored.get(p.name, p.step), p.step)
            points = [p for p in points if p[0] > stored.get(p[1], -1 << 62)]
        # Points and tweak acks in one transaction, and the cursor moved right after:
        # if the write fails nothing is stored and the same answer comes again, so no
        # point is stored twice. What follows only informs (a lost one is not data).
        store.record_reports(tid, points, acks=answer["acks"], mark_api_seen=not relay.api_seen)
        relay.api_seen = relay.api_seen or bool(points)
        relay.cursor = answer["cursor"]
        relay.more = answer["more"]
        code_signal = answer["exit"]
        st.reported(None if code_signal is None else (code_signal[0], code_signal[1]),
                    bool(answer["tree_alive"]))
        relay.log_backlog += answer["log"]
        self._append_log(st)
        if answer["checkpoints"]:
            self._on_checkpoint(st, store, *answer["checkpoints"][-1])
        if answer["dropped"]:
            store.add_event("relay_full", "engine",
                            f"trial {tid}: {answer['dropped']} metric points were dropped on "
                            f"node {st.handle.node}: its relay buffer ({self.relay_limit_mb:g} "
                            "MB) filled while the supervisor was not collecting",
                            trial_id=tid, data={"dropped": answer["dropped"]})

    def _append_log(self, st: RemoteTrial) -> None:
        """Append the trial's new output to its log copy here; kept for the next pull
        if the disk refuses (the node has already handed it over)."""
        if not st.relay.log_backlog:
            return
        try:
            with open(st.trial_dir / "log.txt", "ab") as fh:
                fh.write(st.relay.log_backlog)
        except OSError:
            return
        st.relay.log_backlog = b""

    def _on_checkpoint(self, st: RemoteTrial, store: Any, path: str, step: int) -> None:
        """Record where the trial's latest checkpoint is, readable from this machine:
        on a shared folder or this node as it is, else moved here through Ray."""
        if self.checkpoints.readable_here(path, st.node_id == self._driver_node):
            store.update_trial(st.trial_id, checkpoint=path, checkpoint_step=step)
            return
        st.checkpoint.wanted = (path, step)
        self._fetch_checkpoint(st)

    def _fetch_checkpoint(self, st: RemoteTrial) -> None:
        path = st.checkpoint.next_copy()
        if path is not None:
            st.checkpoint.ref = st.actor.read_checkpoint.options(
                concurrency_group="io").remote(path)

    def _take_checkpoint(self, st: RemoteTrial, store: Any) -> None:
        fetch = st.checkpoint
        path = fetch.inflight[0] if fetch.inflight else "?"
        try:
            blob = self._ray.get(fetch.ref, timeout=0)
        except Exception as exc:
            if not fetch.failed(may_retry=st.phase is not Phase.LOST):
                self._say(st, store, f"ckpt-{path}", f"trial {st.trial_id}: could not copy "
                          f"its checkpoint {path} from node {st.handle.node}: {_cause(exc)}")
            self._fetch_checkpoint(st)  # e.g. deleted while being rewritten: again
            return
        here, step = fetch.arrived(blob, st.trial_dir)
        store.update_trial(st.trial_id, checkpoint=here, checkpoint_step=step)
        self._fetch_checkpoint(st)

    def _push_control(self, store: Any) -> None:
        if not self._trials:
            return
        live = {t.id: t for t in store.trials(LIVE_STATES)}
        pending: dict[int, list[tuple[int, str, Any]]] = {}
        for c in store.param_changes(unapplied_only=True):
            pending.setdefault(c.trial_id, []).append((c.id, c.name, c.value))
        for tid, st in self._trials.items():
            t = live.get(tid)
            if t is None or not st.takes_control():
                continue
            state = (bool(t.stop_requested), tuple(pending.get(tid, ())))
            if state != st.control:
                self._control_version += 1
                st.control = state
                self._fire.append(st.actor.set_control.remote(
                    self._control_version, state[0], list(state[1])))

    def _collect_fired(self, ready: set[Any]) -> None:
        ray = self._ray
        for ref in [r for r in self._fire if r in ready]:
            self._fire.remove(ref)
            try:
                ray.get(ref, timeout=0)
            except Exception:
                pass  # the trial's actor is gone: its pull says so
        for ref in [r for r in self._releasing if r in ready]:
            actor = self._releasing.pop(ref)
            try:
                ray.get(ref, timeout=0)
            except Exception:
                pass
            try:
                ray.kill(actor)
            except Exception:
                pass

    def _release(self, st: RemoteTrial, ended: Exit) -> None:
        self._forget(st, ended)
        if st.has_actor:
            self._releasing[st.actor.release.remote()] = st.actor

    def _forget(self, st: RemoteTrial, ended: Exit) -> None:
        self._trials.pop(st.trial_id, None)
        self._done[st.trial_id] = ended

    def _why_lost(self, st: RemoteTrial, exc: Exception) -> str:
        if self.cluster.died(st.node_id):
            return f"node {st.handle.node} died"
        return f"its actor on node {st.handle.node} died ({type(exc).__name__})"

    def _say(self, st: RemoteTrial, store: Any, key: str, message: str) -> None:
        if key not in st.said:
            st.said.add(key)
            store.add_event("executor", "engine", message, trial_id=st.trial_id)


def _cause(exc: BaseException) -> str:
    """One line: the error raised on the node, not Ray's wrapping and traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """ray.init retries an unreachable cluster for minutes; say so at once instead."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot reach the Ray cluster at {address} ({exc}); is "
                           "`ray start --head` running there?") from None


__all__ = ["RayExecutor"]
