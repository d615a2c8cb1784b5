"""What runs on a Ray node for the Ray executor.

- `TrialRunner`: one per trial, a small actor holding the trial's Ray resources
  (CPUs, whole or fractional GPUs, custom resources). It starts the trial exactly
  as the local executor does (the same LocalExecutor: launcher, own session and
  process group, exit.json, pid + start time identity, group signals) in a folder
  on its node, reads the trial's relay folder (see tuitune.in_trial.ray_sink) and log, and
  hands them out in batches through `pull()`. Commands come in through
  `set_control()` (stop request, pending tweaks) and `signal()`.
- `NodeAgent`: one per node, samples that node's GPUs and host with the same
  SystemSampler the local engine uses.
- A watchdog process per trial (`python -m tuitune.executors.ray_node watchdog`)
  that ends the trial's process tree if its actor dies (ray.kill, a crashed
  worker), so no trial runs on unwatched.

This module does not import Ray at import time: the executor wraps the classes
with `ray.remote`, and tests can drive them directly in one process.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuitune.executors.base import LaunchRequest, TrialHandle
from tuitune.executors.local import LocalExecutor
from tuitune.in_trial.ray_sink import (
    DEFAULT_LIMIT_MB,
    list_segments,
    segment_name,
    write_control,
)

if TYPE_CHECKING:
    from tuitune.system import SystemSampler

PULL_MAX_BYTES = 2 << 20  # relay bytes per pull
LOG_CHUNK = 1 << 20  # log bytes per pull
PULL_WAIT = 0.5  # seconds a pull waits for something new before answering
PULL_GATHER = 0.02  # once something arrived, wait this long for more to batch it
PULL_SLEEP = 0.05  # how often a waiting pull looks at the relay files
TREE_REFRESH = 10.0  # the watchdog's rescan of the trial's tree (a /proc scan)
LEADER_CHECK = 2.0
WATCHDOG_PERIOD = 0.5
UNCLAIMED_AFTER = 3600.0  # an ended trial whose reports nobody pulls for an hour is freed


def _ray_node() -> tuple[str, str]:
    """(node id, label) of the node we run on; ("local", "local") outside Ray."""
    ray = sys.modules.get("ray")  # in an actor Ray is loaded; never start it from here
    if ray is None or not ray.is_initialized():
        return "local", "local"
    try:
        ctx = ray.get_runtime_context()
        node_id = ctx.get_node_id()
        ip = ray.util.get_node_ip_address()
        return node_id, f"{ip}#{node_id[:6]}"
    except Exception:
        return "local", "local"


def pack_path(path: str | os.PathLike[str]) -> bytes:
    """A file or folder as tar bytes, named by its last path component."""
    src = Path(path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        if src.is_dir():
            for folder, _, files in os.walk(src):
                for name in sorted(files):
                    file = Path(folder) / name
                    _add_file(tar, file, f"{src.name}/{file.relative_to(src)}")
        else:
            _add_file(tar, src, src.name)
    return buf.getvalue()


def _add_file(tar: tarfile.TarFile, file: Path, arcname: str) -> None:
    """Read the whole file first: a trial may rewrite its checkpoint meanwhile, and
    tarfile would fail on a size that changed under it."""
    if file.is_symlink() or not file.is_file():
        return
    data = file.read_bytes()
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), int(file.stat().st_mtime), 0o600
    tar.addfile(info, io.BytesIO(data))


def unpack_to(blob: bytes, dest: Path) -> None:
    """Extract tar bytes made by pack_path into `dest` (nothing may land outside it)."""
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Pythons before the extraction filters
            for member in tar.getmembers():
                target = (dest / member.name).resolve()
                if not str(target).startswith(str(dest.resolve())) or member.issym() or (
                        member.islnk()):
                    raise ValueError(f"unsafe path in checkpoint archive: {member.name}")
            tar.extractall(dest)


class TrialRunner:
    """Starts one trial on this node and relays what it reports. Thread-safe: the
    actor runs with a few threads so a waiting pull never delays a kill."""

    def __init__(self, trial_id: int, node_dir: str,
                 relay_limit_mb: float = DEFAULT_LIMIT_MB) -> None:
        self.trial_id = trial_id
        self.node_dir = Path(node_dir)
        self.relay = self.node_dir / "relay"
        self.log_path = self.node_dir / "log.txt"
        self.relay_limit_mb = relay_limit_mb
        self._local = LocalExecutor()
        self._lock = threading.RLock()
        self._handle: TrialHandle | None = None
        self._exit: tuple[int | None, int | None] | None = None
        # What the supervisor has stored: relay (segment, offset) and log offset.
        self._seg, self._off, self._log_off = 1, 0, 0
        self._control_version = -1
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._last_pull = time.monotonic()
        self.node_id, self.node_label = _ray_node()

    # -- starting ---------------------------------------------------------------------------
    def where(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "node": self.node_label, "pid": os.getpid()}

    def start(self, argv: Sequence[str], cwd: str, overlay: Mapping[str, str],
              drop: Sequence[str] = (), shared_dir: str | None = None,
              python: str | None = None, supervisor_trial_dir: str | None = None,
              checkpoint_blob: bytes | None = None, checkpoint_name: str | None = None,
              ) -> dict[str, Any]:
        """Start the trial. `overlay` is what tuitune and the spec add to this node's
        environment; `drop` names variables to remove. Raises OSError if it cannot."""
        with self._lock:
            if self._handle is not None:
                return self.info()
            self.node_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.relay.mkdir(exist_ok=True, mode=0o700)
            trial_dir = Path(shared_dir) if shared_dir else self.node_dir / "trial"
            trial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            env = dict(os.environ)
            for key in drop:
                env.pop(key, None)
            env.update(overlay)
            env.update({
                "TUITUNE_TRIAL_DIR": str(trial_dir),
                "TUITUNE_SINK": "ray",
                "TUITUNE_RELAY": str(self.relay),
                "TUITUNE_RELAY_LIMIT_MB": str(self.relay_limit_mb),
            })
            if checkpoint_blob is not None and checkpoint_name:
                dest = self.node_dir / "initial_checkpoint"
                unpack_to(checkpoint_blob, dest)
                env["TUITUNE_INITIAL_CHECKPOINT"] = str(dest / checkpoint_name)
            args = list(argv)
            if python:  # `{python}` means the Python that runs tuitune: here, this one
                args = [sys.executable if a == python else a for a in args]
            if supervisor_trial_dir:
                args = [a.replace(supervisor_trial_dir, str(trial_dir)) for a in args]
            request = LaunchRequest(self.trial_id, tuple(args), Path(cwd), env,
                                    trial_dir=self.node_dir, log_path=self.log_path)
            self._handle = self._local.start(request)
            self._start_watchdog()
            self._last_pull = time.monotonic()
            threading.Thread(target=self._reap_unclaimed, name="tuitune-unclaimed",
                             daemon=True).start()
            return self.info()

    def _reap_unclaimed(self) -> None:
        """A trial that ended while no supervisor collected it for UNCLAIMED_AFTER:
        nobody will (the run was stopped or abandoned). Free the node's resources."""
        while True:
            time.sleep(5.0)
            if self._exit is not None and time.monotonic() - self._last_pull > UNCLAIMED_AFTER:
                self.release()
                ray = sys.modules.get("ray")
                if ray is not None and ray.is_initialized():
                    try:
                        ray.kill(ray.get_runtime_context().current_actor)
                    except Exception:
                        os._exit(0)
                return

    def _start_watchdog(self) -> None:
        assert self._handle is not None
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-m", "tuitune.executors.ray_node", "watchdog",
                 str(os.getpid()), str(self._handle.pid), repr(self._handle.pid_start)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        except OSError:
            self._watchdog = None  # the trial still runs; only the safety net is missing

    def info(self) -> dict[str, Any]:
        with self._lock:
            h = self._handle
            return {"pid": h.pid if h else None, "pid_start": h.pid_start if h else None,
                    "node": self.node_label, "node_id": self.node_id,
                    "exit": self._exit, "actor_pid": os.getpid()}

    # -- relay -------------------------------------------------------------------------------
    def pull(self, ack: Mapping[str, int] | None = None, wait: float = PULL_WAIT,
             max_bytes: int = PULL_MAX_BYTES) -> dict[str, Any]:
        """Everything new since what the supervisor stored (`ack`: the cursor of the
        previous answer, once stored). Waits up to `wait` seconds for something to say.

        Returns {"points", "checkpoints", "acks", "dropped", "log", "cursor",
        "exit" (code, signal) once the trial ended and all it wrote was handed out,
        "tree_alive", "more"}.
        """
        self._last_pull = time.monotonic()
        if ack is not None:
            self._commit(ack)
        deadline = time.monotonic() + wait
        seen_at: float | None = None
        while True:
            ended = self._check_exit()
            have = self._has_new()
            now = time.monotonic()
            if have and seen_at is None:
                seen_at = now
            if ended or now >= deadline or (seen_at is not None and now - seen_at >= PULL_GATHER):
                break
            time.sleep(PULL_SLEEP)
        return self._read(ended, max_bytes)

    def _check_exit(self) -> bool:
        with self._lock:
            if self._handle is None:
                return False
            if self._exit is None:
                ended = self._local.poll(self._handle)
                if ended is not None:
                    self._exit = (ended.code, ended.signal)
            return self._exit is not None

    def _has_new(self) -> bool:
        with self._lock:
            try:
                if self.log_path.stat().st_size > self._log_off:
                    return True
            except FileNotFoundError:
                pass
            segments = list_segments(self.relay)
            if not segments:
                return False
            if segments[-1] > self._seg:
                return True
            try:
                return (self.relay / segment_name(self._seg)).stat().st_size > self._off
            except FileNotFoundError:
                return False

    def _commit(self, ack: Mapping[str, int]) -> None:
        with self._lock:
            seg, off, log_off = int(ack["seg"]), int(ack["off"]), int(ack["log"])
            if (seg, off) < (self._seg, self._off):
                return  # an old answer, stored twice: keep the newer cursor
            self._seg, self._off, self._log_off = seg, off, max(log_off, self._log_off)
            for index in list_segments(self.relay):
                if index < seg:  # the writer moved past it and the supervisor stored it
                    (self.relay / segment_name(index)).unlink(missing_ok=True)

    def _read(self, ended: bool, max_bytes: int) -> dict[str, Any]:
        """Read from the committed cursor. `ended` must have been observed before
        the read, so what the trial wrote before it exited is in this read."""
        with self._lock:
            points: list[tuple[int, str, float, float]] = []
            checkpoints: list[tuple[str, int]] = []
            acks: list[tuple[list[int], int]] = []
            dropped = 0
            seg, off, budget = self._seg, self._off, max_bytes
            segments = list_segments(self.relay)
            more = False
            while True:
                try:
                    with open(self.relay / segment_name(seg), "rb") as fh:
                        fh.seek(off)
                        data = fh.read(budget)
                        if len(data) == budget and b"\n" not in data:
                            data += fh.readline()  # one line longer than the budget
                except FileNotFoundError:
                    data = b""
                end = data.rfind(b"\n") + 1
                for line in data[:end].splitlines():
                    try:
                        record = _loads(line)
                    except ValueError:
                        continue  # a damaged line: skip it, keep the rest
                    if "p" in record:
                        points.extend((int(s), str(n), float(v), float(t))
                                      for s, n, v, t in record["p"])
                    elif "c" in record:
                        checkpoints.append((str(record["c"][0]), int(record["c"][1])))
                    elif "a" in record:
                        acks.append(([int(i) for i in record["a"][0]], int(record["a"][1])))
                    elif "d" in record:
                        dropped += int(record["d"])
                off += end
                if len(data) >= budget:
                    more = True  # the budget ran out: the rest comes with the next pull
                    break
                budget -= end
                newer = [i for i in segments if i > seg]
                if newer:
                    # Read to its end, and the writer moved on (a torn last line of an
                    # old segment is from a writer that died mid-line): next one.
                    seg, off = newer[0], 0
                    continue
                break
            log = b""
            try:
                with open(self.log_path, "rb") as fh:
                    fh.seek(self._log_off)
                    log = fh.read(LOG_CHUNK)
            except FileNotFoundError:
                pass
            log_more = len(log) == LOG_CHUNK
            cursor = {"seg": seg, "off": off, "log": self._log_off + len(log)}
            drained = not more and not log_more
            exit_ = self._exit if ended and drained else None
            tree_alive = True
            if self._handle is not None and ended:  # signal() rescans before it acts
                self._handle = self._local.refresh_tree(self._handle)
                tree_alive = self._local.tree_alive(self._handle)
            return {"points": points, "checkpoints": checkpoints, "acks": acks,
                    "dropped": dropped, "log": log, "cursor": cursor, "exit": exit_,
                    "tree_alive": tree_alive, "more": more or log_more}

    # -- commands ------------------------------------------------------------------------------
    def set_control(self, version: int, stop: bool,
                    changes: Sequence[tuple[int, str, Any]]) -> None:
        """Publish the supervisor's stop request and pending tweaks to the trial.
        Calls may arrive out of order (threaded actor): the newest version wins."""
        with self._lock:
            if version <= self._control_version:
                return
            self._control_version = version
            self.relay.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_control(self.relay, stop, changes)

    def signal(self, action: str) -> None:
        """pause, resume, terminate or kill the trial's whole process tree."""
        if action not in ("pause", "resume", "terminate", "kill"):
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            handle = self._handle
            if handle is None:
                return
            self._handle = handle = self._local.refresh_tree(handle)
        getattr(self._local, action)(handle)

    def read_checkpoint(self, path: str) -> bytes:
        """A checkpoint the trial saved on this node, as tar bytes (moved through Ray
        to where the supervisor can copy it for clones)."""
        return pack_path(path)

    def release(self) -> None:
        """The supervisor has everything: end what is left of the tree, stop the
        watchdog and delete this trial's node folder."""
        with self._lock:
            if self._handle is not None:
                self._handle = self._local.refresh_tree(self._handle)
                if self._local.tree_alive(self._handle):
                    self._local.kill(self._handle)
                    deadline = time.monotonic() + 2.0
                    while self._local.poll(self._handle) is None and time.monotonic() < deadline:
                        time.sleep(0.02)
            if self._watchdog is not None and self._watchdog.poll() is None:
                self._watchdog.kill()
                self._watchdog.wait()
            shutil.rmtree(self.node_dir, ignore_errors=True)

    def ping(self) -> bool:
        return True


def _loads(line: bytes) -> dict[str, Any]:
    import json

    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("not a record")
    return value


class NodeAgent:
    """Samples this node's GPUs and host (the same SystemSampler as the local engine)."""

    def __init__(self) -> None:
        self._sampler: SystemSampler | None = None
        self.node_id, self.node_label = _ray_node()

    def sample(self, roots: Mapping[int, tuple[int, float]] | None = None) -> dict[str, Any]:
        from tuitune.system import NvmlGpuSource, ProcessIdentity, SystemSampler
        from tuitune.system.nodes import gpu_to_dict, host_to_dict

        if self._sampler is None:
            self._sampler = SystemSampler(NvmlGpuSource())
        snap = self._sampler.sample({tid: ProcessIdentity(pid, start)
                                     for tid, (pid, start) in (roots or {}).items()})
        return {
            "node": self.node_label, "node_id": self.node_id, "t": snap.t,
            "gpu_status": snap.gpu_status,
            "gpus": [gpu_to_dict(g) for g in snap.gpus],
            "host": host_to_dict(snap.host),
            "trials": {tid: {"cpu_pct": u.cpu_pct, "rss_mb": u.rss_mb,
                             "gpu_ids": list(u.gpu_ids), "gpu_mem_mb": u.gpu_mem_mb}
                       for tid, u in snap.trials.items()},
        }


# -- watchdog ---------------------------------------------------------------------------------
def watchdog(actor_pid: int, pid: int, pid_start: float) -> int:
    """Run beside a trial; if its actor process goes away while the trial still runs,
    end the trial's whole tree (the same group signals as the local executor)."""
    local = LocalExecutor()
    handle = TrialHandle(0, pid, pid_start)
    last_tree = last_check = 0.0
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:  # cheap: one getppid() a tick, /proc reads only now and then
        now = time.monotonic()
        if now - last_tree >= TREE_REFRESH:
            last_tree = now
            handle = local.refresh_tree(handle)
        if now - last_check >= LEADER_CHECK:
            last_check = now
            if not local.tree_alive(handle):
                return 0
        if os.getppid() != actor_pid:  # reparented: the actor is gone
            handle = local.refresh_tree(handle)
            local.kill(handle)
            return 1
        time.sleep(WATCHDOG_PERIOD)


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "watchdog":
        return watchdog(int(argv[1]), int(argv[2]), float(argv[3]))
    print("usage: python -m tuitune.executors.ray_node watchdog ACTOR_PID PID PID_START",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["NodeAgent", "TrialRunner", "pack_path", "unpack_to", "watchdog"]
