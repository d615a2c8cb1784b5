"""NVML-backed GPU source: the only module of tuitune that imports pynvml.

``NvmlGpuSource.read()`` never raises. Every NVML call goes through one
wrapper (``_call``) that turns an error into the ``NA`` sentinel, remembers
fields a GPU or the driver cannot report so they are not retried every second,
and escalates only the two errors that change the picture: a GPU that fell off
the bus (that GPU gets ``error`` set, the others are still read) and a driver
that went away (no GPUs, a calm status, another try in 30 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tuitune.system.types import OK, GpuProcess, GpuReadout, GpuSample

try:
    import pynvml
except ImportError:  # a declared dependency, but a broken install must not crash the UI
    pynvml = None

log = logging.getLogger(__name__)

RETRY_INTERVAL_S = 30.0
_MB = 1024.0 * 1024.0
_UINT_NA = 0xFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE for 32-bit fields
_ULL_NA = 2**63  # at or above this a 64-bit value is NVML's "not available" (or garbage)

# Newest first: R535 changed the process struct, and old drivers lack the _v3 symbol.
_PROCESS_FUNCTIONS = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses",
)

# Errors that mean "NVML as a whole is unusable"; the value is the status shown.
_LIBRARY_ERRORS = (
    ("NVMLError_LibraryNotFound", "no NVIDIA GPU (NVML library not found)"),
    ("NVMLError_DriverNotLoaded", "no NVIDIA GPU (NVIDIA driver not loaded)"),
    (
        "NVMLError_LibRmVersionMismatch",
        "NVIDIA GPU unreadable (driver and library versions differ: reload the module or reboot)",
    ),
    ("NVMLError_NoPermission", "no NVIDIA GPU (no permission to use NVML)"),
    ("NVMLError_Uninitialized", "NVML is not initialized"),
)
# Errors that, mid-run, mean the driver went away under us.
_GONE_ERRORS = (
    "NVMLError_LibraryNotFound",
    "NVMLError_DriverNotLoaded",
    "NVMLError_LibRmVersionMismatch",
)
# Errors that mean "this GPU is unreadable"; the others are still reported.
_GPU_ERRORS = (
    ("NVMLError_GpuIsLost", "GPU is lost"),
    ("NVMLError_ResetRequired", "GPU needs a reset"),
    ("NVMLError_Unknown", "GPU unreadable (unknown NVML error)"),
)
# Errors that will not go away while we run: skip the function from now on.
_PERMANENT_ERRORS = ("NVMLError_NotSupported", "NVMLError_NoPermission")


class _NotAvailable:
    """Sentinel for a value NVML could not give (like nvitop's ``NA``)."""

    _instance: _NotAvailable | None = None

    def __new__(cls) -> _NotAvailable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "N/A"

    def __bool__(self) -> bool:
        return False


NA: Any = _NotAvailable()


class _GpuLost(Exception):
    """One GPU cannot be read any more."""


class _NvmlGone(Exception):
    """NVML itself stopped answering (driver unloaded or upgraded under us)."""


def _is(exc: BaseException, class_name: str) -> bool:
    cls = getattr(pynvml, class_name, None)
    return cls is not None and isinstance(exc, cls)


def _library_reason(exc: BaseException) -> str:
    for class_name, reason in _LIBRARY_ERRORS:
        if _is(exc, class_name):
            return reason
    try:
        text = str(exc)
    except Exception:  # str() of an NVMLError may itself call into NVML
        text = type(exc).__name__
    return f"no NVIDIA GPU (NVML error: {text})"


def _number(value: Any, scale: float = 1.0) -> float | None:
    """Turn an NVML number into a float, mapping "not available" to None."""
    if value is NA or value is None:
        return None
    try:
        if int(value) == _UINT_NA or int(value) >= _ULL_NA:
            return None
        return float(value) * scale
    except (TypeError, ValueError, OverflowError):
        return None


class NvmlGpuSource:
    """Reads all NVIDIA GPUs through NVML; never raises.

    Args:
        clock: Monotonic clock, injected for tests.
        retry_interval: Seconds between init attempts after NVML failed.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        retry_interval: float = RETRY_INTERVAL_S,
    ) -> None:
        self._clock = clock
        self._retry_interval = retry_interval
        self._lock = threading.Lock()
        self._ready = False
        self._status = "NVML not initialized yet"
        self._next_init = float("-inf")
        self._count = 0
        self._handles: dict[int, Any] = {}
        self._idents: dict[int, tuple[str, str]] = {}
        self._skip: set[tuple[str, int | None]] = set()
        self._util_since: dict[int, int] = {}

    def read(self) -> GpuReadout:
        """Read every GPU. Returns no GPUs and a reason when NVML is unusable."""
        with self._lock:
            try:
                if not self._ensure_init():
                    return GpuReadout((), self._status)
                return GpuReadout(tuple(self._read_gpu(i) for i in range(self._count)), OK)
            except _NvmlGone as exc:
                self._drop(str(exc))
            except Exception:  # a bug or a ctypes surprise must not take down the caller
                log.exception("GPU readout failed")
                self._drop("GPU readout failed (see log)")
            return GpuReadout((), self._status)

    def close(self) -> None:
        """Shut NVML down; a later ``read()`` initializes it again."""
        with self._lock:
            self._drop("closed")
            self._next_init = float("-inf")

    # -- lifecycle -------------------------------------------------------------

    def _ensure_init(self) -> bool:
        if self._ready:
            return True
        now = self._clock()
        if now < self._next_init:
            return False
        self._next_init = now + self._retry_interval
        if pynvml is None:
            self._status = "no NVIDIA GPU (nvidia-ml-py is not installed)"
            return False
        try:
            pynvml.nvmlInit()
        except Exception as exc:
            reason = _library_reason(exc)
            if reason != self._status:  # once, not every retry
                log.info("NVML unavailable: %s", reason)
            self._status = reason
            return False
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        except Exception as exc:
            self._status = _library_reason(exc)
            self._shutdown()
            return False
        if count == 0:
            self._status = "no NVIDIA GPU (NVML found no devices)"
            self._shutdown()
            return False
        self._ready, self._count, self._status = True, count, OK
        return True

    def _drop(self, reason: str) -> None:
        if self._ready:
            self._shutdown()
        self._ready = False
        self._status = reason
        self._handles.clear()
        self._util_since.clear()
        self._next_init = self._clock() + self._retry_interval

    @staticmethod
    def _shutdown() -> None:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # nothing useful to do if shutdown fails
            pass

    # -- the one wrapper -------------------------------------------------------

    def _call(self, name: str, index: int, *args: Any) -> Any:
        """Call ``pynvml.<name>(*args)`` for GPU ``index``; NA instead of errors."""
        if (name, None) in self._skip or (name, index) in self._skip:
            return NA
        fn = getattr(pynvml, name, None)
        if fn is None:
            self._remember(name, None, "not in this nvidia-ml-py")
            return NA
        try:
            return fn(*args)
        except pynvml.NVMLError as exc:
            if _is(exc, "NVMLError_FunctionNotFound"):
                self._remember(name, None, "not in this driver")
            elif any(_is(exc, n) for n in _PERMANENT_ERRORS):
                self._remember(name, index, str(exc))
            else:
                for class_name, reason in _GPU_ERRORS:
                    if _is(exc, class_name):
                        raise _GpuLost(reason) from exc
                if any(_is(exc, n) for n in _GONE_ERRORS):
                    raise _NvmlGone(_library_reason(exc)) from exc
                if _is(exc, "NVMLError_Uninitialized"):
                    raise _NvmlGone("NVML was shut down under us") from exc
                log.debug("%s on GPU %d: %s", name, index, exc)  # transient: try next time
            return NA
        except getattr(pynvml, "NVMLLibraryMismatchError", ()) as exc:
            # The unversioned process query raises this instead of FunctionNotFound.
            self._remember(name, None, str(exc))
            return NA

    def _remember(self, name: str, index: int | None, why: str) -> None:
        self._skip.add((name, index))
        where = "all GPUs" if index is None else f"GPU {index}"
        log.info("NVML %s unavailable on %s (%s); not asking again", name, where, why)

    # -- per GPU ---------------------------------------------------------------

    def _read_gpu(self, index: int) -> GpuSample:
        uuid, name = self._idents.get(index, (f"GPU-{index}", "unknown GPU"))
        try:
            handle = self._handle(index)
            uuid, name = self._identity(index, handle)
            util = self._call("nvmlDeviceGetUtilizationRates", index, handle)
            mem = self._call("nvmlDeviceGetMemoryInfo", index, handle)
            temp = self._call(
                "nvmlDeviceGetTemperature", index, handle, pynvml.NVML_TEMPERATURE_GPU
            )
            power = self._call("nvmlDeviceGetPowerUsage", index, handle)
            limit = self._call("nvmlDeviceGetEnforcedPowerLimit", index, handle)
            fan = self._call("nvmlDeviceGetFanSpeed", index, handle)
            total = _number(getattr(mem, "total", NA), 1 / _MB)
            processes = self._processes(index, handle, total)
        except _GpuLost as exc:
            self._handles.pop(index, None)  # a reset GPU gets a new handle
            return GpuSample(index, uuid, name, error=str(exc))
        util_pct = _number(getattr(util, "gpu", NA))
        return GpuSample(
            index=index,
            uuid=uuid,
            name=name,
            util_pct=util_pct if util_pct is None or util_pct <= 100 else None,
            mem_used_mb=_number(getattr(mem, "used", NA), 1 / _MB),
            mem_total_mb=total,
            temp_c=_number(temp),
            power_w=_number(power, 1e-3),
            power_limit_w=_number(limit, 1e-3),
            fan_pct=_number(fan),
            processes=processes,
        )

    def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            handle = self._call("nvmlDeviceGetHandleByIndex", index, index)
            if handle is NA:
                raise _GpuLost("GPU unreadable (no NVML handle)")
            self._handles[index] = handle
        return handle

    def _identity(self, index: int, handle: Any) -> tuple[str, str]:
        if index in self._idents:
            return self._idents[index]
        uuid = self._call("nvmlDeviceGetUUID", index, handle)
        name = self._call("nvmlDeviceGetName", index, handle)
        if uuid is NA or name is NA:
            return (f"GPU-{index}" if uuid is NA else str(uuid)), (
                "unknown GPU" if name is NA else str(name)
            )
        self._idents[index] = (str(uuid), str(name))  # static: ask once
        return self._idents[index]

    def _processes(self, index: int, handle: Any, total_mb: float | None) -> tuple[GpuProcess, ...]:
        raw = NA
        for fn_name in _PROCESS_FUNCTIONS:
            raw = self._call(fn_name, index, handle)
            if raw is not NA:
                break
        if raw is NA:
            return ()
        sm_util = self._process_util(index, handle) if raw else {}
        by_pid: dict[int, GpuProcess] = {}
        for info in raw:
            pid = int(getattr(info, "pid", 0) or 0)
            if pid <= 0:
                continue
            mem_mb = _number(getattr(info, "usedGpuMemory", None), 1 / _MB)
            if mem_mb is not None and total_mb is not None and mem_mb > total_mb * 1.01:
                mem_mb = None  # a struct-version mismatch reads garbage (nvitop #79)
            prev = by_pid.get(pid)
            if prev is not None and prev.used_memory_mb is not None and mem_mb is not None:
                mem_mb += prev.used_memory_mb  # one entry per context, e.g. under MPS
            by_pid[pid] = GpuProcess(pid, mem_mb, sm_util.get(pid))
        return tuple(by_pid[pid] for pid in sorted(by_pid))

    def _process_util(self, index: int, handle: Any) -> dict[int, float]:
        """Newest SM utilization per pid since the previous read; bogus values dropped."""
        since = self._util_since.get(index, 0)
        samples = self._call("nvmlDeviceGetProcessUtilization", index, handle, since)
        if samples is NA:
            return {}
        newest: dict[int, tuple[int, float]] = {}
        for s in samples:
            ts, pid, util = int(s.timeStamp), int(s.pid), float(s.smUtil)
            self._util_since[index] = max(self._util_since.get(index, 0), ts)
            if 0 <= util <= 100 and (pid not in newest or ts > newest[pid][0]):
                newest[pid] = (ts, util)  # NVML has reported >100% (nvtop #110)
        return {pid: util for pid, (_, util) in newest.items()}
