"""GPU and host sampling: NVML (never raises), trial process trees, fakes.

``NvmlGpuSource`` is imported lazily so that importing this package does not
load pynvml (and its ctypes setup) until a real GPU source is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuitune.system.fake import FakeGpuSource, fake_readout
from tuitune.system.host import HostProbe, identify
from tuitune.system.proctable import ProcfsTable, PsutilTable, default_table
from tuitune.system.sampler import SystemSampler, is_stale
from tuitune.system.trees import ProcessTrees, TreeUsage
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
    "ProcessTrees",
    "ProcfsTable",
    "PsutilTable",
    "SystemSampler",
    "SystemSnapshot",
    "TreeUsage",
    "TrialUsage",
    "default_table",
    "fake_readout",
    "identify",
    "is_stale",
]


def __getattr__(name: str) -> Any:
    if name == "NvmlGpuSource":
        from tuitune.system.gpu import NvmlGpuSource

        return NvmlGpuSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
