"""Checkpoints of remote trials: where they live, how a clone's initial checkpoint
reaches its node, and how a node's latest checkpoint is copied to this machine.

    checkpoint_root = "/shared/ckpt"  # seen by every node and this machine at one path
    checkpoint_root = "run"           # the run folder itself (shared, e.g. over NFS)
    (unset)                           # checkpoints move through Ray (pack_path/unpack_to)

No Ray import here: the executor passes `put` (ray.put) where a blob must travel.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuitune.executors.base import LaunchRequest
from tuitune.executors.ray_node import pack_path, unpack_to

CHECKPOINT_TRIES = 3  # copies of one checkpoint tried before it is given up


@dataclass(frozen=True)
class CheckpointRoot:
    """The `checkpoint_root` option: which paths every node and this machine share."""

    root: str | None

    def shared_dir(self, request: LaunchRequest) -> Path | None:
        """The trial's checkpoint folder on the shared root, if there is one."""
        if not self.root:
            return None
        if self.root == "run":
            return request.trial_dir
        run_dir = request.trial_dir.parent.parent
        return Path(self.root) / run_dir.name / "trials" / str(request.trial_id)

    def is_shared(self, path: str) -> bool:
        if not self.root or self.root == "run":
            return False
        try:
            Path(path).resolve().relative_to(Path(self.root).resolve())
            return True
        except ValueError:
            return False

    def readable_here(self, path: str, on_this_machine: bool) -> bool:
        """A node's checkpoint this machine reads as it is (no copy needed)."""
        return self.is_shared(path) or self.root == "run" or on_this_machine

    def stage_initial(self, request: LaunchRequest, overlay: dict[str, str],
                      put: Callable[[bytes], Any]) -> tuple[Any, str | None]:
        """Make a clone's initial checkpoint reachable from its node: copied to the
        shared root (the overlay names the copy), or packed to travel through Ray
        (returns the blob's reference and its file name; the overlay drops the path)."""
        initial = request.env.get("TUITUNE_INITIAL_CHECKPOINT")
        if not initial or not Path(initial).exists():
            return None, None
        source = Path(initial)
        shared = self.shared_dir(request)
        if shared is not None and self.root != "run" and not self.is_shared(initial):
            dest = shared / "initial_checkpoint"
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True, mode=0o700)
            _copy(source, dest / source.name)
            overlay["TUITUNE_INITIAL_CHECKPOINT"] = str(dest / source.name)
        elif shared is None:
            overlay.pop("TUITUNE_INITIAL_CHECKPOINT", None)
            return put(pack_path(source)), source.name
        return None, None


@dataclass
class CheckpointFetch:
    """The copy of one trial's latest checkpoint from its node to this machine:
    the newest wanted, the one held, the copy under way and its failures."""

    wanted: tuple[str, int] | None = None
    have: tuple[str, int] | None = None
    ref: Any = None  # the copy under way
    inflight: tuple[str, int] | None = None
    failures: int = 0

    def next_copy(self) -> str | None:
        """The path to copy now, if a newer checkpoint is wanted and none is under way."""
        if self.ref is None and self.wanted and self.wanted != self.have:
            self.inflight = self.wanted
            return self.wanted[0]
        return None

    def failed(self, may_retry: bool) -> bool:
        """A copy failed; True to try it again, False when it is given up (the next
        newer checkpoint is still copied)."""
        self.ref = None
        self.failures += 1
        if self.failures < CHECKPOINT_TRIES and may_retry:
            return True
        self.have, self.failures = self.inflight, 0
        return False

    def arrived(self, blob: bytes, trial_dir: Path) -> tuple[str, int]:
        """Unpack the copy into `trial_dir/checkpoint` (replacing the last one whole);
        returns the checkpoint's path here and its step."""
        assert self.inflight is not None
        path, step = self.inflight
        self.ref, self.failures = None, 0
        tmp, dest = trial_dir / ".checkpoint.tmp", trial_dir / "checkpoint"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack_to(blob, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        self.have = self.inflight
        return str(dest / Path(path).name), step


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)
