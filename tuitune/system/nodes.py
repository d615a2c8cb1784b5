"""The record of one cluster node's latest sample, as the Ray executor writes it to
the run store (meta key `ray_nodes`, a list of `NodeRecord.to_dict()`) and the TUI
reads it back (`NodeRecord.from_dict`). One declaration for both sides.

The node's agent sends its GPUs and host the same way (`gpu_to_dict`,
`host_to_dict`). Reading is tolerant: an older or newer supervisor may write fields
this reader does not know, and a value missing or malformed within a node is only
that value unknown (None for a GPU's, NaN for the host's, no age for `seen`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuitune.system.types import GpuSample, HostSample

#: The run-store meta key the executor writes and the TUI reads.
NODES_KEY = "ray_nodes"


@dataclass(frozen=True)
class NodeRecord:
    """One node as last sampled. `gpu_status` is "ok", or why no GPU could be read,
    or None when the node was never sampled. `seen` is the supervisor's clock when
    the sample arrived (node clocks may disagree with ours); `t` the node's own."""

    node_id: str
    label: str
    alive: bool
    gpu_status: str | None
    gpus: tuple[GpuSample, ...]
    host: HostSample | None
    seen: float | None
    trials: tuple[int, ...] = ()
    ip: str | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    t: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "ip": self.ip, "node": self.label, "alive": self.alive,
            "resources": dict(self.resources), "gpu_status": self.gpu_status,
            "gpus": [gpu_to_dict(g) for g in self.gpus],
            "host": None if self.host is None else host_to_dict(self.host),
            "t": self.t, "seen": self.seen, "trials": list(self.trials),
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> NodeRecord:
        """Raises TypeError, ValueError or KeyError for an entry that is no node."""
        node_id = str(entry.get("node_id") or "")
        label = entry.get("node") or f"{entry.get('ip')}#{node_id[:6]}"
        host = entry.get("host")
        seen = _number(entry.get("seen", entry.get("t")))
        t = _number(entry.get("t"))
        resources = entry.get("resources")
        return cls(
            node_id=node_id, label=str(label), alive=bool(entry.get("alive", True)),
            gpu_status=entry.get("gpu_status"),
            gpus=tuple(gpu_from_dict(g) for g in entry.get("gpus") or ()),
            host=host_from_dict(host) if isinstance(host, Mapping) and host else None,
            seen=None if seen is None or math.isnan(seen) else seen,
            trials=tuple(int(n) for n in map(_number, entry.get("trials") or ())
                         if n is not None and math.isfinite(n)),
            ip=None if entry.get("ip") is None else str(entry.get("ip")),
            resources={str(k): float(v) for k, v in resources.items()
                       if _number(v) is not None} if isinstance(resources, Mapping) else {},
            t=None if t is None or math.isnan(t) else t)


def nodes_to_meta(nodes: Iterable[NodeRecord]) -> list[dict[str, Any]]:
    return [n.to_dict() for n in nodes]


def nodes_from_meta(raw: object) -> tuple[NodeRecord, ...]:
    """The meta value as records, sorted by label; malformed entries are skipped."""
    if not isinstance(raw, list):
        return ()
    nodes = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        try:
            nodes.append(NodeRecord.from_dict(entry))
        except (TypeError, ValueError, KeyError):
            continue
    return tuple(sorted(nodes, key=lambda n: n.label))


def gpu_to_dict(g: GpuSample) -> dict[str, Any]:
    return {"index": g.index, "uuid": g.uuid, "name": g.name, "util_pct": g.util_pct,
            "mem_used_mb": g.mem_used_mb, "mem_total_mb": g.mem_total_mb,
            "temp_c": g.temp_c, "power_w": g.power_w, "power_limit_w": g.power_limit_w,
            "error": g.error}


def gpu_from_dict(g: Mapping[str, Any]) -> GpuSample:
    def number(key: str) -> float | None:
        return _number(g.get(key))
    return GpuSample(index=int(g["index"]), uuid=str(g.get("uuid") or ""),
                     name=str(g.get("name") or ""), util_pct=number("util_pct"),
                     mem_used_mb=number("mem_used_mb"), mem_total_mb=number("mem_total_mb"),
                     temp_c=number("temp_c"), power_w=number("power_w"),
                     power_limit_w=number("power_limit_w"), error=g.get("error"))


def host_to_dict(h: HostSample) -> dict[str, Any]:
    return {"cpu_pct": h.cpu_pct, "ncpu": h.ncpu, "ram_used_mb": h.ram_used_mb,
            "ram_total_mb": h.ram_total_mb}


def host_from_dict(h: Mapping[str, Any]) -> HostSample:
    def number(key: str) -> float:
        v = _number(h.get(key))
        return math.nan if v is None else v
    ncpu = _number(h.get("ncpu"))
    return HostSample(cpu_pct=number("cpu_pct"), ncpu=0 if ncpu is None else int(ncpu),
                      ram_used_mb=number("ram_used_mb"), ram_total_mb=number("ram_total_mb"))


def _number(v: object) -> float | None:
    """`v` as a float; None when it is missing or not a number."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
