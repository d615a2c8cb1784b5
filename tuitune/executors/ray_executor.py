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
import hashlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuitune.executors.base import Executor, Exit, LaunchRequest, TrialHandle
from tuitune.executors.ray_node import NodeAgent, TrialRunner, pack_path, unpack_to
from tuitune.core.history import LIVE_STATES
from tuitune.in_trial.ray_sink import DEFAULT_LIMIT_MB

NAMESPACE = "tuitune"
PULL_WAIT = 0.5  # a pull waits this long on the node for something to say
CONTROL_INTERVAL = 0.2  # seconds between pushes of stop requests and tweaks
NODES_INTERVAL = 5.0  # seconds between reads of the cluster's node list
SAMPLE_INTERVAL = 1.0  # seconds between GPU/host samples of every node
RETRY_AFTER = 1.0  # seconds before asking an unreachable actor again
RELEASE_AFTER = 1.0  # an ended trial the supervisor stopped polling is released after this
START_WAIT = 5.0  # seconds start() waits for a trial to start where a node has room
PENDING = "pending"  # the node of a trial that waits for one
CHECKPOINT_TRIES = 3
SIGNAL_WAIT = 1.0  # seconds to wait for a signal to reach the node
_NOT_FORWARDED = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TUITUNE_STORE")

_OPTIONS = {"address", "resources", "num_cpus", "num_gpus", "checkpoint_root", "node_root",
            "namespace", "relay_limit_mb", "start_timeout"}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError('the Ray executor needs Ray: pip install "tuitune[ray]"') from None
    return ray


@dataclass
class _Remote:
    """What the executor knows about one remote trial."""

    actor: Any
    handle: TrialHandle
    node_id: str
    trial_dir: Path  # on this machine: log copy, fetched checkpoints
    cursor: dict[str, int] | None = None  # end of the last stored answer
    pending: Any = None  # the outstanding pull
    retry_at: float = 0.0
    more: bool = False
    exit: tuple[int | None, int | None] | None = None
    tree_alive: bool = True
    lost: str | None = None
    control: tuple[bool, tuple[tuple[int, str, Any], ...]] | None = None
    api_seen: bool = False
    adopted: bool = False
    ckpt_wanted: tuple[str, int] | None = None
    ckpt_have: tuple[str, int] | None = None
    ckpt_ref: Any = None
    ckpt_inflight: tuple[str, int] | None = None
    ckpt_failures: int = 0
    polled_at: float = 0.0
    exit_returned_at: float | None = None
    starting: Any = None  # the start call, while the trial waits for a node
    pending_since: float = 0.0
    asks: dict[str, float] = field(default_factory=dict)
    start_error: str = ""
    pause_wanted: bool = False
    actor_gone: bool = False
    placed_unrecorded: bool = False  # started after its supervisor died: store the pid
    log_backlog: bytes = b""  # output pulled but not yet appended to the log copy
    said: set[str] = field(default_factory=set)


class RayExecutor(Executor):
    """Starts each trial as a process on a Ray node, through a small actor there."""

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown [executor] option(s) for ray: {', '.join(sorted(unknown))}"
                             f" (known: {', '.join(sorted(_OPTIONS))})")
        self.address: str | None = options.get("address")
        self.resources: dict[str, float] = {str(k): float(v) for k, v in
                                            dict(options.get("resources") or {}).items()}
        self.num_cpus = float(options.get("num_cpus", 1))
        self.num_gpus: float | None = (None if options.get("num_gpus") is None
                                       else float(options["num_gpus"]))
        self.checkpoint_root: str | None = options.get("checkpoint_root")
        self.node_root: str | None = options.get("node_root")
        self.namespace = str(options.get("namespace", NAMESPACE))
        self.relay_limit_mb = float(options.get("relay_limit_mb", DEFAULT_LIMIT_MB))
        timeout = options.get("start_timeout")  # how long a trial may wait for a node
        self.start_timeout: float | None = None if timeout is None else float(timeout)
        self._ray: Any = None
        self._runner_cls: Any = None
        self._agent_cls: Any = None
        self._driver_node: str | None = None
        self._trials: dict[int, _Remote] = {}
        self._done: dict[int, Exit] = {}
        self._fire: list[Any] = []  # control pushes and signals: errors are collected
        self._releasing: dict[Any, Any] = {}  # release ref -> actor to kill after
        self._control_version = 0
        self._signal_seq = 0
        self._last_control = 0.0
        self._nodes: dict[str, dict[str, Any]] = {}
        self._last_nodes = 0.0
        self._agents: dict[str, Any] = {}
        self._samples: dict[str, dict[str, Any]] = {}
        self._sample_refs: dict[Any, str] = {}
        self._last_sample = 0.0
        self._last_meta = 0.0
        self._peaks: dict[int, float] = {}
        self._gpus_per_trial: dict[Path, float | None] = {}
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
        self._agent_cls = ray.remote(NodeAgent)
        self._driver_node = ray.get_runtime_context().get_node_id()
        self._ray = ray
        atexit.register(self._deliver_fired)
        return ray

    def _deliver_fired(self, timeout: float = 3.0) -> None:
        """At exit: let signals and control pushes already sent reach their nodes."""
        if self._fire and self._ray is not None and self._ray.is_initialized():
            try:
                self._ray.wait(self._fire, num_returns=len(self._fire), timeout=timeout)
            except Exception:
                pass

    def _run_key(self, run_dir: Path) -> str:
        digest = hashlib.sha1(f"{socket.gethostname()}:{run_dir.resolve()}".encode()).hexdigest()
        return f"{run_dir.name}-{digest[:8]}"

    def _actor_name(self, trial_dir: Path, trial_id: int) -> str:
        return f"tuitune/{self._run_key(trial_dir.parent.parent)}/{trial_id}"

    def _node_dir(self, trial_dir: Path, trial_id: int) -> str:
        root = self.node_root or os.path.join(tempfile.gettempdir(),
                                              f"tuitune-ray-{os.getuid()}")
        return os.path.join(root, self._run_key(trial_dir.parent.parent), str(trial_id))

    def _shared_dir(self, request: LaunchRequest) -> Path | None:
        if not self.checkpoint_root:
            return None
        if self.checkpoint_root == "run":
            return request.trial_dir
        run_dir = request.trial_dir.parent.parent
        return Path(self.checkpoint_root) / run_dir.name / "trials" / str(request.trial_id)

    def _is_shared(self, path: str) -> bool:
        if not self.checkpoint_root or self.checkpoint_root == "run":
            return False
        try:
            Path(path).resolve().relative_to(Path(self.checkpoint_root).resolve())
            return True
        except ValueError:
            return False

    def _trial_gpus(self, run_dir: Path) -> float:
        """GPUs per trial: the option, else the spec's resources.gpus_per_trial (unset:
        one whole GPU where the cluster has GPUs)."""
        if self.num_gpus is not None:
            return self.num_gpus
        if run_dir not in self._gpus_per_trial:
            share = None
            try:
                from tuitune.core.spec import load_spec_json
                from tuitune.store import RunStore

                store = RunStore(run_dir, readonly=True)
                try:
                    share = load_spec_json(store.meta()["spec"]).resources.gpus_per_trial
                finally:
                    store.close()
            except Exception:
                share = None
            self._gpus_per_trial[run_dir] = share
        share = self._gpus_per_trial[run_dir]
        if share is None:
            return 1.0 if self._ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        return float(share)

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
        name = self._actor_name(request.trial_dir, tid)
        try:  # a leftover from an earlier attempt at this trial
            ray.kill(ray.get_actor(name, namespace=self.namespace))
        except ValueError:
            pass
        gpus = self._trial_gpus(run_dir)
        asks = {"CPU": self.num_cpus, "GPU": gpus, **self.resources}
        actor = self._runner_cls.options(
            name=name, namespace=self.namespace, lifetime="detached",
            num_cpus=self.num_cpus, num_gpus=gpus, resources=self.resources or None,
            max_restarts=0, max_task_retries=0,
        ).remote(tid, self._node_dir(request.trial_dir, tid), self.relay_limit_mb)
        overlay, drop = self._environment(request)
        shared = self._shared_dir(request)
        blob = ckpt_name = None
        initial = request.env.get("TUITUNE_INITIAL_CHECKPOINT")
        if initial and Path(initial).exists():
            source = Path(initial)
            if shared is not None and self.checkpoint_root != "run" and not self._is_shared(
                    initial):
                dest = shared / "initial_checkpoint"
                if dest.exists():
                    shutil.rmtree(dest)
                dest.mkdir(parents=True, mode=0o700)
                _copy(source, dest / source.name)
                overlay["TUITUNE_INITIAL_CHECKPOINT"] = str(dest / source.name)
            elif shared is None:  # no shared folder: the checkpoint moves through Ray
                blob, ckpt_name = ray.put(pack_path(source)), source.name
                overlay.pop("TUITUNE_INITIAL_CHECKPOINT", None)
        starting = actor.start.remote(
            list(request.argv), str(request.cwd), overlay, drop,
            str(shared) if shared else None, sys.executable, str(request.trial_dir),
            blob, ckpt_name)
        now = time.monotonic()
        st = _Remote(actor, TrialHandle(tid, 0, 0.0, PENDING, str(request.trial_dir)), "",
                     request.trial_dir, polled_at=now, starting=starting, pending_since=now,
                     asks=asks)
        self._done.pop(tid, None)
        self._trials[tid] = st
        # Where a node has room the trial starts within a second or two: wait for that,
        # so the engine records its pid and node at once. Otherwise it waits in Ray's
        # queue (for a node to free up or join) and the store is told when it starts.
        if self._fits(asks) and ray.wait([starting], timeout=START_WAIT)[0]:
            self._take_start(st, None)
            if st.exit is not None:
                self._trials.pop(tid, None)
                self._kill_actor(actor)
                raise OSError(st.start_error)
        return st.handle

    def _fits(self, asks: dict[str, float]) -> bool:
        try:
            free = self._ray.available_resources()
        except Exception:
            return False
        return all(free.get(k, 0.0) >= v for k, v in asks.items() if v)

    def _take_start(self, st: _Remote, store: Any) -> None:
        ref, st.starting = st.starting, None
        tid = st.handle.trial_id
        try:
            info = self._ray.get(ref, timeout=0)
        except Exception as exc:
            self._start_failed(st, f"trial {tid} could not start on Ray: {_cause(exc)}")
            return
        st.handle = TrialHandle(tid, int(info["pid"]), float(info["pid_start"]), info["node"],
                                str(st.trial_dir))
        st.node_id = info["node_id"]
        if store is not None:  # it waited for a node: tell the store where it runs now
            store.update_trial(tid, pid=st.handle.pid, pid_start=st.handle.pid_start,
                               node=st.handle.node)
            store.add_event("placed", "engine", f"trial {tid} runs on node {st.handle.node} "
                            f"(pid {st.handle.pid})", trial_id=tid)
        if st.pause_wanted:
            self._fire.append(st.actor.signal.remote("pause"))

    def _start_failed(self, st: _Remote, message: str) -> None:
        """The trial never ran: end it as a command that cannot start (exit 127),
        with the reason in its log like the launcher writes it."""
        st.start_error = message
        with open(st.trial_dir / "log.txt", "a") as fh:
            fh.write(f"tuitune: {message}\n")
        st.exit, st.tree_alive, st.actor_gone = (127, None), False, True

    def _kill_actor(self, actor: Any) -> None:
        try:
            self._ray.kill(actor, no_restart=True)
        except Exception:
            pass

    def _environment(self, request: LaunchRequest) -> tuple[dict[str, str], list[str]]:
        """What the engine added to this machine's environment, to add on the node
        (the node's own environment is the base there, as this machine's is here)."""
        here = os.environ
        overlay = {k: v for k, v in request.env.items()
                   if here.get(k) != v or k.startswith("TUITUNE_")}
        for key in _NOT_FORWARDED:  # GPUs are Ray's to give on the node; no store there
            overlay.pop(key, None)
        drop = ["TUITUNE_STORE"] + [k for k in here if k not in request.env]
        return overlay, drop

    def poll(self, handle: TrialHandle) -> Exit | None:
        st = self._trials.get(handle.trial_id)
        if st is None:
            return self._done.get(handle.trial_id, Exit(None, lost=True))
        now = time.monotonic()
        st.polled_at = now
        if st.starting is not None and self.start_timeout is not None and (
                now - st.pending_since > self.start_timeout):
            self._kill_actor(st.actor)
            st.starting = None
            wanted = ", ".join(f"{k}={v:g}" for k, v in st.asks.items() if v)
            self._start_failed(st, f"no Ray node could take trial {handle.trial_id} within "
                               f"{self.start_timeout:g}s (it asks for {wanted})")
        if st.lost is not None:
            self._forget(st, Exit(None, lost=True))
            return Exit(None, lost=True)
        if st.exit is None or st.ckpt_ref is not None:
            return None
        if st.exit_returned_at is None:
            st.exit_returned_at = now
        ended = Exit(*st.exit)
        if not st.tree_alive:
            self._release(st, ended)
        return ended

    def tree_alive(self, handle: TrialHandle) -> bool:
        st = self._trials.get(handle.trial_id)
        return bool(st and st.lost is None and st.tree_alive)

    def _signal(self, handle: TrialHandle, action: str) -> None:
        st = self._trials.get(handle.trial_id)
        if st is None or st.lost is not None or st.actor_gone:
            return
        if st.starting is not None:  # still waiting for a node: nothing runs yet
            if action in ("pause", "resume"):
                st.pause_wanted = action == "pause"
                return
            self._kill_actor(st.actor)
            st.starting = None
            st.exit = (None, signal.SIGKILL if action == "kill" else signal.SIGTERM)
            st.tree_alive, st.actor_gone = False, True
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
            actor = ray.get_actor(self._actor_name(Path(handle.trial_dir), handle.trial_id),
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
        self._trials[handle.trial_id] = _Remote(
            actor, real, info["node_id"], Path(handle.trial_dir), adopted=True,
            polled_at=time.monotonic(), placed_unrecorded=waited)
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
        ray = self._ray
        now = time.monotonic()
        refs = [st.pending for st in self._trials.values() if st.pending is not None]
        refs += [st.starting for st in self._trials.values() if st.starting is not None]
        refs += [st.ckpt_ref for st in self._trials.values() if st.ckpt_ref is not None]
        refs += self._fire + list(self._releasing) + list(self._sample_refs)
        ready = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) if refs else set()
        if ready:
            self._collect_fired(ready)
            self._collect_samples(ready, store)
        for st in list(self._trials.values()):
            if st.starting is not None and st.starting in ready:
                self._take_start(st, store)
            if st.pending is not None and st.pending in ready:
                self._take_pull(st, store, now)
            if st.ckpt_ref is not None and st.ckpt_ref in ready:
                self._take_checkpoint(st, store)
        self._check_nodes(now)
        for st in list(self._trials.values()):
            if st.exit_returned_at is not None and now - st.polled_at > RELEASE_AFTER:
                self._release(st, Exit(*st.exit) if st.exit else Exit(None))
                continue
            if st.pending is None and st.starting is None and not st.actor_gone and (
                    st.lost is None and now >= st.retry_at) and not (
                    st.exit is not None and not st.tree_alive):
                wait = 0.0 if (st.more or st.exit is not None) else PULL_WAIT
                st.pending = st.actor.pull.options(concurrency_group="relay").remote(
                    st.cursor, wait)
        if now - self._last_control >= CONTROL_INTERVAL:
            self._last_control = now
            self._push_control(store)
        if now - self._last_sample >= SAMPLE_INTERVAL:
            self._last_sample = now
            self._sample_nodes()
            self._write_nodes(store)

    def _take_pull(self, st: _Remote, store: Any, now: float) -> None:
        ray = self._ray
        ref, st.pending = st.pending, None
        try:
            answer = ray.get(ref, timeout=0)
        except ray.exceptions.ActorUnavailableError:
            st.retry_at = now + RETRY_AFTER  # restarting or briefly cut off: ask again
            return
        except ray.exceptions.RayActorError as exc:
            st.lost = self._why_lost(st, exc)
            return
        except Exception as exc:  # a bug or a broken folder on the node: say it once
            self._say(st, store, "pull", f"trial {st.handle.trial_id}: cannot read its reports "
                      f"on node {st.handle.node}: {_cause(exc)}")
            st.retry_at = now + RETRY_AFTER
            return
        tid = st.handle.trial_id
        points = answer["points"]
        if st.placed_unrecorded:
            st.placed_unrecorded = False
            store.update_trial(tid, pid=st.handle.pid, pid_start=st.handle.pid_start,
                               node=st.handle.node)
        if st.adopted:  # what an earlier supervisor stored may come again once
            st.adopted = False
            stored: dict[str, int] = {}
            for p in store.metrics(trial_id=tid):
                stored[p.name] = max(stored.get(p.name, p.step), p.step)
            points = [p for p in points if p[0] > stored.get(p[1], -1 << 62)]
        # Points and tweak acks in one transaction, and the cursor moved right after:
        # if the write fails nothing is stored and the same answer comes again, so no
        # point is stored twice. What follows only informs (a lost one is not data).
        store.record_reports(tid, points, acks=answer["acks"], mark_api_seen=not st.api_seen)
        st.api_seen = st.api_seen or bool(points)
        st.cursor = answer["cursor"]
        st.more = answer["more"]
        st.tree_alive = answer["tree_alive"]
        if answer["exit"] is not None:
            st.exit = tuple(answer["exit"])  # type: ignore[assignment]
        st.log_backlog += answer["log"]
        self._append_log(st)
        if answer["checkpoints"]:
            self._on_checkpoint(st, store, *answer["checkpoints"][-1])
        if answer["dropped"]:
            store.add_event("relay_full", "engine",
                            f"trial {tid}: {answer['dropped']} metric points were dropped on "
                            f"node {st.handle.node}: its relay buffer ({self.relay_limit_mb:g} "
                            "MB) filled while the supervisor was not collecting",
                            trial_id=tid, data={"dropped": answer["dropped"]})

    def _append_log(self, st: _Remote) -> None:
        """Append the trial's new output to its log copy here; kept for the next pull
        if the disk refuses (the node has already handed it over)."""
        if not st.log_backlog:
            return
        try:
            with open(st.trial_dir / "log.txt", "ab") as fh:
                fh.write(st.log_backlog)
        except OSError:
            return
        st.log_backlog = b""

    def _on_checkpoint(self, st: _Remote, store: Any, path: str, step: int) -> None:
        """Record where the trial's latest checkpoint is, readable from this machine:
        on a shared folder or this node as it is, else moved here through Ray."""
        if self._is_shared(path) or self.checkpoint_root == "run" or (
                st.node_id == self._driver_node):
            store.update_trial(st.handle.trial_id, checkpoint=path, checkpoint_step=step)
            return
        st.ckpt_wanted = (path, step)
        self._fetch_checkpoint(st)

    def _fetch_checkpoint(self, st: _Remote) -> None:
        if st.ckpt_ref is None and st.ckpt_wanted and st.ckpt_wanted != st.ckpt_have:
            st.ckpt_inflight = st.ckpt_wanted
            st.ckpt_ref = st.actor.read_checkpoint.options(concurrency_group="io").remote(
                st.ckpt_wanted[0])

    def _take_checkpoint(self, st: _Remote, store: Any) -> None:
        ref, st.ckpt_ref = st.ckpt_ref, None
        assert st.ckpt_inflight is not None
        path, step = st.ckpt_inflight
        try:
            blob = self._ray.get(ref, timeout=0)
        except Exception as exc:
            st.ckpt_failures += 1
            if st.ckpt_failures < CHECKPOINT_TRIES and st.lost is None:
                self._fetch_checkpoint(st)  # e.g. deleted while being rewritten: again
                return
            self._say(st, store, f"ckpt-{path}", f"trial {st.handle.trial_id}: could not copy "
                      f"its checkpoint {path} from node {st.handle.node}: {_cause(exc)}")
            st.ckpt_have = st.ckpt_inflight
            st.ckpt_failures = 0
            self._fetch_checkpoint(st)
            return
        st.ckpt_failures = 0
        tmp = st.trial_dir / ".checkpoint.tmp"
        dest = st.trial_dir / "checkpoint"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack_to(blob, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        st.ckpt_have = st.ckpt_inflight
        store.update_trial(st.handle.trial_id, checkpoint=str(dest / Path(path).name),
                           checkpoint_step=step)
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
            if t is None or st.lost is not None or st.exit is not None or st.actor_gone:
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

    def _release(self, st: _Remote, ended: Exit) -> None:
        self._forget(st, ended)
        if st.lost is None and not st.actor_gone:
            self._releasing[st.actor.release.remote()] = st.actor

    def _forget(self, st: _Remote, ended: Exit) -> None:
        self._trials.pop(st.handle.trial_id, None)
        self._done[st.handle.trial_id] = ended

    def _why_lost(self, st: _Remote, exc: Exception) -> str:
        node = self._nodes.get(st.node_id)
        if node is not None and not node.get("Alive", True):
            return f"node {st.handle.node} died"
        return f"its actor on node {st.handle.node} died ({type(exc).__name__})"

    def _say(self, st: _Remote, store: Any, key: str, message: str) -> None:
        if key not in st.said:
            st.said.add(key)
            store.add_event("executor", "engine", message, trial_id=st.handle.trial_id)

    # -- nodes: liveness and GPU sampling ----------------------------------------------------------
    def _check_nodes(self, now: float) -> None:
        if now - self._last_nodes < NODES_INTERVAL:
            return
        self._last_nodes = now
        try:
            self._nodes = {n["NodeID"]: n for n in self._ray.nodes()}
        except Exception:
            return
        for st in self._trials.values():
            node = self._nodes.get(st.node_id)
            if st.lost is None and node is not None and not node.get("Alive", True):
                st.lost = f"node {st.handle.node} died"

    def _sample_nodes(self) -> None:
        if not self._nodes:
            self._check_nodes(time.monotonic() + NODES_INTERVAL)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        busy = set(self._sample_refs.values())
        for node_id, node in self._nodes.items():
            if not node.get("Alive", True):
                self._agents.pop(node_id, None)  # its last sample stays, shown as lost
                continue
            if node_id in busy:
                continue
            agent = self._agents.get(node_id)
            if agent is None:
                agent = self._agents[node_id] = self._agent_cls.options(
                    num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
                        node_id, soft=False)).remote()
            roots = {tid: (st.handle.pid, st.handle.pid_start)
                     for tid, st in self._trials.items() if st.node_id == node_id}
            self._sample_refs[agent.sample.remote(roots)] = node_id

    def _collect_samples(self, ready: set[Any], store: Any) -> None:
        for ref in [r for r in self._sample_refs if r in ready]:
            node_id = self._sample_refs.pop(ref)
            try:
                sample = self._ray.get(ref, timeout=0)
            except Exception:
                self._agents.pop(node_id, None)  # made again next time if the node lives
                continue
            # Ages are measured on this clock: a node's own clock may be off.
            self._samples[node_id] = {**sample, "seen": time.time()}
            for tid, usage in sample["trials"].items():
                mem = usage.get("gpu_mem_mb")
                if mem and tid in self._trials and mem > self._peaks.get(tid, 0.0):
                    self._peaks[tid] = mem
                    store.update_trial(tid, peak_gpu_mem_mb=mem)

    def _write_nodes(self, store: Any) -> None:
        """Every node's GPUs and host, for the system panel: meta key `ray_nodes`."""
        nodes = []
        for node_id, node in self._nodes.items():
            sample = self._samples.get(node_id, {})
            nodes.append({
                "node_id": node_id, "ip": node.get("NodeManagerAddress"),
                "node": sample.get("node") or f"{node.get('NodeManagerAddress')}#{node_id[:6]}",
                "alive": bool(node.get("Alive", True)),
                "resources": dict(node.get("Resources") or {}),
                "gpu_status": sample.get("gpu_status"), "gpus": sample.get("gpus", []),
                "host": sample.get("host"), "t": sample.get("t"), "seen": sample.get("seen"),
                "trials": sorted(tid for tid, st in self._trials.items()
                                 if st.node_id == node_id),
            })
        if nodes:
            store.set_meta(ray_nodes=nodes)


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


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)


__all__ = ["RayExecutor"]
