"""GPU and host sampling: NVML (never raises), psutil process trees, fakes.

``NvmlGpuSource`` is imported lazily so that importing this package does not
load pynvml (and its ctypes setup) until a real GPU source is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuitune.system.fake import FakeGpuSource, fake_readout
from tuitune.system.host import HostProbe, ProcessTable, identify, process_tree, tree_usage
from tuitune.system.sampler import SystemSampler, is_stale
from tuitune.system.types import (
    OK,
    GpuProcess,
    GpuReadout,
    GpuSample,
    GpuSource,
    HostSample,
    ProcessIdentity,
    SystemSnapshot,
    TrialUsage,
)

if TYPE_CHECKING:
    from tuitune.system.gpu import NvmlGpuSource

__all__ = [
    "OK",
    "FakeGpuSource",
    "GpuProcess",
    "GpuReadout",
    "GpuSample",
    "GpuSource",
    "HostProbe",
    "HostSample",
    "NvmlGpuSource",
    "ProcessIdentity",
    "ProcessTable",
    "SystemSampler",
    "SystemSnapshot",
    "TrialUsage",
    "fake_readout",
    "identify",
    "is_stale",
    "process_tree",
    "tree_usage",
]


def __getattr__(name: str) -> Any:
    if name == "NvmlGpuSource":
        from tuitune.system.gpu import NvmlGpuSource

        return NvmlGpuSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
