"""Run folders: where they live, how to find one, and whether its supervisor lives.

A run folder holds `store.db` (the truth), `spec.toml` (a copy of the spec as it
was started), `supervisor.log`, and `trials/<id>/` (log, checkpoints, exit status).
Folders are created readable by their owner only, and a run folder (or runs root)
another user owns or could write is refused before anything is read from it
(engine/ownership.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuitune.engine.ownership import NotYours, check_run_folder, check_runs_root
from tuitune.executors.local import process_matches
from tuitune.core.spec import Spec, unused_params_warning
from tuitune.store import RunStore

SUPERVISOR_LOG = "supervisor.log"
SUPERVISOR_LOCK = "supervisor.lock"  # held by the live supervisor (flock)
HEARTBEAT_STALE = 10.0  # seconds without a heartbeat before a supervisor counts as gone
#: Run folder names are the spec's name (cut to this length) and a time stamp.
_NAME_CHARS = 64


class RunNotFound(LookupError):
    pass


def runs_root() -> Path:
    """Where runs live: $TUITUNE_HOME/runs, else ~/.tuitune/runs."""
    home = os.environ.get("TUITUNE_HOME")
    return (Path(home) if home else Path.home() / ".tuitune") / "runs"


def trial_dir(run_dir: Path, trial_id: int) -> Path:
    return run_dir / "trials" / str(trial_id)


def create_run(spec: Spec, root: Path | None = None,
               clock: Callable[[], float] = time.time,
               warm_start: dict[str, Any] | None = None) -> Path:
    """Make a new run folder with its store; returns the folder. `warm_start`: the
    trials imported from earlier runs (engine/warm_start.py), kept in its meta."""
    root = root or runs_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_runs_root(root)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.name).strip("-.")[:_NAME_CHARS] or "run"
    for n in range(1000):
        run_dir = root / (f"{base}-{stamp}" + (f"-{n}" if n else ""))
        try:
            run_dir.mkdir(mode=0o700)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover
        raise RuntimeError(f"cannot create a run folder in {root}")
    (run_dir / "trials").mkdir(mode=0o700)
    shutil.copyfile(spec.path, run_dir / "spec.toml")
    os.chmod(run_dir / "spec.toml", 0o600)
    store = RunStore(run_dir, create=True, clock=clock)
    store.set_meta(name=spec.name, spec=spec.to_json(), created_at=clock(),
                   strategy=spec.search.strategy, search_options=dict(spec.search.options),
                   max_trials=spec.budget.max_trials, max_concurrent=spec.budget.max_concurrent,
                   state="created")
    store.add_event("run_created", "user", f"run {run_dir.name} created from {spec.path}")
    if warm_start is not None:
        from tuitune.engine.warm_start import META_KEY, summary

        store.set_meta(**{META_KEY: warm_start})
        store.add_event("warm_start", "user", summary(warm_start),
                        data={"imported": len(warm_start["imported"]),
                              "refused": len(warm_start["refused"])})
    warning = unused_params_warning(spec)
    if warning:
        store.add_event("warning", "spec", warning)
    store.close()
    return run_dir


def resolve_run(name: str, root: Path | None = None) -> Path:
    """A run given as a folder path, a run name, or a unique prefix of one; refused
    (NotYours) if another user owns it or could have written it."""
    run_dir = _find_run(name, root or runs_root())
    check_run_folder(run_dir, "store.db")
    return run_dir


def _find_run(name: str, root: Path) -> Path:
    path = Path(name)
    if _has_store(path):
        return path.resolve()
    if name and "/" not in name and _has_store(root / name):
        check_runs_root(root)
        return root / name
    matches = [p for p in list_runs(root) if p.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFound(f"no run named {name!r} (runs live in {root}; see `tuitune ls`)")
    raise RunNotFound(f"{name!r} matches several runs: {', '.join(p.name for p in matches)}")


def _has_store(folder: Path) -> bool:
    try:
        return (folder / "store.db").exists()
    except PermissionError:
        raise NotYours(f"permission denied: {folder} (it belongs to another user)") from None
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def list_runs(root: Path | None = None) -> list[Path]:
    """The run folders in the runs root (refused if another user could write it); a
    folder in it may still be someone else's: resolve_run checks each one used."""
    root = root or runs_root()
    if not _is_dir(root):
        return []
    check_runs_root(root)
    return sorted((p for p in root.iterdir() if _may_be_run(p)), key=_mtime)


def _may_be_run(folder: Path) -> bool:
    """A folder with a store, or one we may not look into (listed, then refused)."""
    try:
        return _has_store(folder)
    except NotYours:
        return True


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except PermissionError:
        raise NotYours(f"permission denied: {path} (it belongs to another user)") from None
    except OSError:
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile, or not ours to look into
        return 0.0


@dataclass(frozen=True)
class SupervisorInfo:
    pid: int | None
    alive: bool
    heartbeat_age: float | None


def supervisor_info(store: RunStore, now: float | None = None) -> SupervisorInfo:
    meta = store.meta()
    pid, start, beat = meta.get("supervisor_pid"), meta.get("supervisor_start"), meta.get(
        "heartbeat")
    now = time.time() if now is None else now
    age = None if beat is None else now - beat
    alive = bool(pid and start and process_matches(pid, start))
    return SupervisorInfo(pid, alive, age)


def spawn_supervisor(run_dir: Path, resume: bool = False) -> int:
    """Start the run's supervisor as a detached process (its own session, no terminal,
    output to supervisor.log), so it outlives the terminal, the TUI and any follower.
    Every way a supervisor starts comes through here. Returns its pid."""
    log = os.open(run_dir / SUPERVISOR_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    argv = [sys.executable, "-m", "tuitune.engine.supervisor", str(run_dir)]
    if resume:
        argv.append("--resume")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(log)
    return proc.pid


def wait_for_supervisor(run_dir: Path, pid: int, timeout: float = 15.0) -> bool:
    """Wait until the spawned supervisor has registered itself in the store. One that
    registered and already finished the run (it had nothing left to do) counts too."""
    deadline = time.monotonic() + timeout
    store = RunStore(run_dir)
    try:
        while time.monotonic() < deadline:
            if store.meta(["supervisor_pid"]).get("supervisor_pid") == pid:
                return True
            if _exited(pid):
                return _registered(store, pid)
            time.sleep(0.05)
        return False
    finally:
        store.close()


def _exited(pid: int) -> bool:
    try:  # our child (we spawned it): reap it, or it stays a zombie that kill(0) finds
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _registered(store: RunStore, pid: int) -> bool:
    # Read once, when the process has exited: rare, so a scan is fine.
    return any(e.kind == "supervisor_started" and (e.data or {}).get("pid") == pid
               for e in store.events())


def ensure_supervisor(run_dir: Path, attempts: int = 3) -> bool:
    """Start a supervisor for the run unless a live one holds it. True once one is
    alive (or ran and finished the run); False if none could start (the reason is in
    supervisor.log)."""
    for _ in range(attempts):
        if is_supervised(run_dir):
            return True
        pid = spawn_supervisor(run_dir, resume=True)
        if wait_for_supervisor(run_dir, pid):
            return True
        # Ours lost the run to one still holding it (finishing, or started by another
        # front end at the same moment): look again.
        time.sleep(0.5)
    return is_supervised(run_dir)


def is_supervised(run_dir: Path) -> bool:
    """Whether a live supervisor holds the run (one read of its meta)."""
    store = RunStore(run_dir)
    try:
        return supervisor_info(store).alive
    finally:
        store.close()
