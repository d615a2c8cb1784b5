"""The cluster's nodes: which are alive, and each one's GPUs and host, sampled through
a small agent actor on it (ray_node.NodeAgent) about every second. The latest
samples go to the run store as `system.nodes.NodeRecord`s (meta key `ray_nodes`)
for the TUI's system panel; a trial's peak GPU memory goes to its record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from tuitune.system.nodes import (
    NODES_KEY,
    NodeRecord,
    gpu_from_dict,
    host_from_dict,
    nodes_to_meta,
)

NODES_INTERVAL = 5.0  # seconds between reads of the cluster's node list
SAMPLE_INTERVAL = 1.0  # seconds between GPU/host samples of every node


class ClusterNodes:
    """Node liveness and samples. `ray` is the connected module; `agent_cls` the
    remote NodeAgent class."""

    def __init__(self, ray: Any, agent_cls: Any) -> None:
        self._ray = ray
        self._agent_cls = agent_cls
        self.nodes: dict[str, dict[str, Any]] = {}  # Ray's node table, by node id
        self._last_nodes = 0.0
        self._last_sample = 0.0
        self._agents: dict[str, Any] = {}
        self._samples: dict[str, dict[str, Any]] = {}
        self._refs: dict[Any, str] = {}  # sample under way -> its node
        self._peaks: dict[int, float] = {}

    @property
    def refs(self) -> list[Any]:
        return list(self._refs)

    def refresh(self, now: float, force: bool = False) -> bool:
        """Read the node table again if it is time; True if it was read."""
        if not force and now - self._last_nodes < NODES_INTERVAL:
            return False
        self._last_nodes = now
        try:
            self.nodes = {n["NodeID"]: n for n in self._ray.nodes()}
        except Exception:
            return False
        return True

    def died(self, node_id: str) -> bool:
        node = self.nodes.get(node_id)
        return node is not None and not node.get("Alive", True)

    def due(self, now: float) -> bool:
        if now - self._last_sample < SAMPLE_INTERVAL:
            return False
        self._last_sample = now
        return True

    def sample(self, roots: Mapping[str, Mapping[int, tuple[int, float]]]) -> None:
        """Ask every live node's agent for a sample (one at a time per node); `roots`
        names each node's trials as (pid, start time)."""
        if not self.nodes:
            self.refresh(time.monotonic(), force=True)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        busy = set(self._refs.values())
        for node_id, node in self.nodes.items():
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
            self._refs[agent.sample.remote(dict(roots.get(node_id, {})))] = node_id

    def collect(self, ready: set[Any], store: Any, live: Iterable[int]) -> None:
        """Take the samples that arrived; a live trial's new peak GPU memory is stored."""
        live = set(live)
        for ref in [r for r in self._refs if r in ready]:
            node_id = self._refs.pop(ref)
            try:
                sample = self._ray.get(ref, timeout=0)
            except Exception:
                self._agents.pop(node_id, None)  # made again next time if the node lives
                continue
            # Ages are measured on this clock: a node's own clock may be off.
            self._samples[node_id] = {**sample, "seen": time.time()}
            for tid, usage in sample["trials"].items():
                mem = usage.get("gpu_mem_mb")
                if mem and tid in live and mem > self._peaks.get(tid, 0.0):
                    self._peaks[tid] = mem
                    store.update_trial(tid, peak_gpu_mem_mb=mem)

    def records(self, trials_on: Mapping[str, Iterable[int]]) -> list[NodeRecord]:
        """Every node known, with its latest sample and the trials on it."""
        out = []
        for node_id, node in self.nodes.items():
            sample = self._samples.get(node_id, {})
            ip = node.get("NodeManagerAddress")
            host = sample.get("host")
            out.append(NodeRecord(
                node_id=node_id, label=sample.get("node") or f"{ip}#{node_id[:6]}",
                alive=bool(node.get("Alive", True)), gpu_status=sample.get("gpu_status"),
                gpus=tuple(gpu_from_dict(g) for g in sample.get("gpus", [])),
                host=host_from_dict(host) if host else None, seen=sample.get("seen"),
                trials=tuple(sorted(trials_on.get(node_id, ()))),
                ip=None if ip is None else str(ip),
                resources=dict(node.get("Resources") or {}), t=sample.get("t")))
        return out

    def write(self, store: Any, trials_on: Mapping[str, Iterable[int]]) -> None:
        """Every node's GPUs and host, for the system panel (meta key `ray_nodes`)."""
        records = self.records(trials_on)
        if records:
            store.set_meta(**{NODES_KEY: nodes_to_meta(records)})
