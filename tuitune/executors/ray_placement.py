"""Where a remote trial goes and what it takes with it: the resources its actor asks
of a node, the actor's name (a restarted supervisor finds it by that name), its
folder on the node, and the environment it adds to the node's own.

    num_cpus = 1                      # CPUs each trial reserves (default 1)
    num_gpus = 0.5                    # default: the spec's resources.gpus_per_trial
    resources = {node2 = 0.01}        # custom Ray resources each trial asks for (pinning)
    node_root = "/scratch/tuitune"    # where trial folders go on nodes (default: /tmp)

No Ray import here: the executor passes what it asks of the cluster.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tuitune.executors.base import LaunchRequest

#: GPUs are Ray's to give on the node; a node has no run store.
NOT_FORWARDED = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TUITUNE_STORE")


def run_key(run_dir: Path) -> str:
    """A name for the run unique across machines (two hosts may run `exp-1`)."""
    digest = hashlib.sha1(f"{socket.gethostname()}:{run_dir.resolve()}".encode()).hexdigest()
    return f"{run_dir.name}-{digest[:8]}"


def actor_name(trial_dir: Path, trial_id: int) -> str:
    return f"tuitune/{run_key(trial_dir.parent.parent)}/{trial_id}"


@dataclass
class Placement:
    """The placement options of `[executor]`, and what they make of each trial."""

    num_cpus: float = 1.0
    num_gpus: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    node_root: str | None = None
    _share: dict[Path, float | None] = field(default_factory=dict)  # per run, read once

    def node_dir(self, trial_dir: Path, trial_id: int) -> str:
        root = self.node_root or os.path.join(tempfile.gettempdir(),
                                              f"tuitune-ray-{os.getuid()}")
        return os.path.join(root, run_key(trial_dir.parent.parent), str(trial_id))

    def gpus(self, run_dir: Path, cluster_has_gpus: Callable[[], bool]) -> float:
        """GPUs per trial: the option, else the spec's resources.gpus_per_trial (unset:
        one whole GPU where the cluster has GPUs)."""
        if self.num_gpus is not None:
            return self.num_gpus
        if run_dir not in self._share:
            self._share[run_dir] = _spec_gpus_per_trial(run_dir)
        share = self._share[run_dir]
        if share is None:
            return 1.0 if cluster_has_gpus() else 0.0
        return float(share)

    def asks(self, gpus: float) -> dict[str, float]:
        return {"CPU": self.num_cpus, "GPU": gpus, **self.resources}


def fits(asks: Mapping[str, float], free: Mapping[str, float]) -> bool:
    """Some node may take it now (the cluster's free resources cover what it asks)."""
    return all(free.get(k, 0.0) >= v for k, v in asks.items() if v)


def environment(request: LaunchRequest, here: Mapping[str, str]
                ) -> tuple[dict[str, str], list[str]]:
    """What the engine added to this machine's environment `here`, to add on the node
    (the node's own environment is the base there, as this machine's is here), and
    what to remove there."""
    overlay = {k: v for k, v in request.env.items()
               if here.get(k) != v or k.startswith("TUITUNE_")}
    for key in NOT_FORWARDED:
        overlay.pop(key, None)
    drop = ["TUITUNE_STORE"] + [k for k in here if k not in request.env]
    return overlay, drop


def _spec_gpus_per_trial(run_dir: Path) -> float | None:
    try:
        from tuitune.core.spec import load_spec_json
        from tuitune.store import RunStore

        store = RunStore(run_dir, readonly=True)
        try:
            return load_spec_json(store.meta()["spec"]).resources.gpus_per_trial
        finally:
            store.close()
    except Exception:
        return None
