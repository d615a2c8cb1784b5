"""The GPUs and host of every node of a remote (Ray) run, for the system panel.

The supervisor samples each node through a small actor there and writes the
latest samples to the run store (meta key `ray_nodes`: `system.nodes.NodeRecord`s,
written by executors/ray_sampling.py). `NodeFeed.read()` turns that key into the
same frozen records with their age, and keeps a short utilization history per node so its
GPU lines draw the same sparklines as the local ones. No Textual.

A sample's age is measured from `seen`, the supervisor's clock when it got the
sample (node clocks may disagree with ours), so a dead node, a hung agent and a
dead supervisor all show as old values instead of current ones.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tuitune.store import RunStore
from tuitune.system.nodes import NODES_KEY, NodeRecord, nodes_from_meta
from tuitune.system.sampler import HOST_CPU_KEY, HOST_RAM_KEY, gpu_mem_key, gpu_util_key

#: Samples arrive about every second; older than this, the values are not current.
STALE_AFTER_S = 5.0
#: Values kept per series: as many as the widest sparkline draws (gpu_lines.Layout).
HISTORY = 24


#: One node as last sampled: the record the executor writes (one declaration).
NodeSample = NodeRecord


@dataclass(frozen=True)
class NodeState:
    """How far to trust a node's values at one moment."""

    word: str  # "current", "stale", "lost" (its node died) or "waiting" (no sample yet)
    age: float | None

    @property
    def current(self) -> bool:
        return self.word == "current"


@dataclass(frozen=True)
class NodesView:
    """Every node at `now`, with each node's history (keys as the local sampler's)."""

    nodes: tuple[NodeSample, ...]
    now: float
    history: Mapping[str, Mapping[str, tuple[float, ...]]] = field(default_factory=dict)

    def state(self, node: NodeSample) -> NodeState:
        age = None if node.seen is None else max(0.0, self.now - node.seen)
        if not node.alive:
            return NodeState("lost", age)
        if age is None:
            return NodeState("waiting", None)
        return NodeState("current" if age <= STALE_AFTER_S else "stale", age)


def parse_nodes(raw: object) -> tuple[NodeSample, ...]:
    """The meta value as records; malformed entries are skipped, not fatal (an older
    or newer supervisor may write fields this TUI does not know)."""
    return nodes_from_meta(raw)


class NodeHistory:
    """Utilization and memory per node and GPU, one value per new sample."""

    def __init__(self, length: int = HISTORY) -> None:
        self._len = length
        self._series: dict[str, dict[str, deque[float]]] = {}
        self._seen: dict[str, float | None] = {}
        self._frozen: dict[str, dict[str, tuple[float, ...]]] = {}

    def add(self, nodes: Iterable[NodeSample]) -> dict[str, dict[str, tuple[float, ...]]]:
        """Adds what is new; returns every node's history, copied only where it grew
        (the UI thread reads the copies while this thread adds)."""
        grown = False
        for node in nodes:
            if node.seen is None or self._seen.get(node.node_id) == node.seen:
                continue  # nothing new from this node: its history must not grow
            self._seen[node.node_id] = node.seen
            series = self._series.setdefault(node.node_id, {})
            for key, value in _values(node):
                series.setdefault(key, deque(maxlen=self._len)).append(value)
            if not grown:  # the dict returned last may be in use: change a copy
                self._frozen = dict(self._frozen)
            self._frozen[node.node_id] = {k: tuple(v) for k, v in series.items()}
            grown = True
        return self._frozen


def _values(node: NodeSample) -> Iterable[tuple[str, float]]:
    for gpu in node.gpus:
        yield gpu_util_key(gpu.index), _nan(gpu.util_pct)
        yield gpu_mem_key(gpu.index), _nan(gpu.mem_pct)
    if node.host is not None:
        yield HOST_CPU_KEY, node.host.cpu_pct
        yield HOST_RAM_KEY, node.host.ram_pct


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


_UNREAD = object()


class NodeFeed:
    """Reads the nodes from a run's store; call `read()` from one thread.

    Args:
        run_dir: The run folder.
        clock: Wall clock for the ages (the supervisor's clock wrote `seen`).
    """

    def __init__(self, run_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.run_dir = Path(run_dir)
        self.clock = clock
        self._store: RunStore | None = None
        self._history = NodeHistory()
        self._raw: object = _UNREAD
        self._nodes: tuple[NodeSample, ...] = ()

    def read(self) -> NodesView | None:
        """The nodes now; None while the executor has published none. Raises when
        the store cannot be read (`aged()` then gives the last nodes, older)."""
        if self._store is None:
            self._store = RunStore(self.run_dir, readonly=True)
        # meta() parses the value at every read: a few KB a node, once a second.
        meta = self._store.meta([NODES_KEY])
        if NODES_KEY not in meta:
            return None
        raw = meta[NODES_KEY]
        if raw != self._raw:  # made records again only when the supervisor wrote anew
            self._nodes = parse_nodes(raw)
            self._raw = raw
        return self.aged()

    def aged(self) -> NodesView | None:
        """The nodes last read, their ages measured now; None if none were ever read.
        For when reading fails: the values grow old and turn stale instead of
        staying "current" with the age they had at the last good read."""
        if self._raw is _UNREAD:
            return None
        return NodesView(self._nodes, self.clock(), self._history.add(self._nodes))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
