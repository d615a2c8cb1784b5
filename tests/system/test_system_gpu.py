"""NvmlGpuSource: never raises; errors become None, a GPU error, or a status.

The machine running CI has no NVIDIA driver, so the first test uses the real
pynvml; the others replace pynvml's functions with a small fake NVML.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from tuitune.system import gpu as gpu_mod
from tuitune.system.gpu import NvmlGpuSource
from tuitune.system.types import GpuProcess

MB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_real_nvml_on_a_machine_without_driver(monkeypatch) -> None:
    calls = Counter()
    real_init = pynvml.nvmlInit

    def counting_init() -> None:
        calls["init"] += 1
        real_init()

    monkeypatch.setattr(pynvml, "nvmlInit", counting_init)
    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("this machine has a working NVML")
    except pynvml.NVMLError:
        pass
    calls.clear()
    clock = Clock()
    src = NvmlGpuSource(clock=clock)
    readout = src.read()
    assert readout.gpus == ()
    assert "no NVIDIA GPU" in readout.status
    assert not readout.ok
    clock.t += 10
    assert src.read() == readout
    assert calls["init"] == 1  # not retried within 30 s
    clock.t += 25
    src.read()
    assert calls["init"] == 2
    src.close()


class FakeDevice:
    """One fake GPU: its answers, and errors to raise per function ("*": all)."""

    def __init__(self, index: int, **over: Any) -> None:
        self.index = index
        self.values: dict[str, Any] = {
            "nvmlDeviceGetUUID": f"GPU-{index:08x}",
            "nvmlDeviceGetName": "NVIDIA Test 16GB",
            "nvmlDeviceGetUtilizationRates": SimpleNamespace(gpu=40 + index, memory=10),
            "nvmlDeviceGetMemoryInfo": SimpleNamespace(total=16384 * MB, used=4096 * MB),
            "nvmlDeviceGetTemperature": 55,
            "nvmlDeviceGetPowerUsage": 123_500,  # mW
            "nvmlDeviceGetEnforcedPowerLimit": 300_000,
            "nvmlDeviceGetFanSpeed": 35,
            "procs": [SimpleNamespace(pid=1000 + index, usedGpuMemory=2048 * MB)],
            "nvmlDeviceGetProcessUtilization": [
                SimpleNamespace(pid=1000 + index, timeStamp=5, smUtil=80),
            ],
        }
        self.values.update(over)
        self.errors: dict[str, type[Exception]] = {}


PROC_FNS = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses",
)


class FakeNvml:
    """Installs fake pynvml functions for a list of devices."""

    def __init__(self, devices: list[FakeDevice]) -> None:
        self.devices = devices
        self.calls: Counter[str] = Counter()
        self.init_error: type[Exception] | None = None
        self.shutdowns = 0
        self.since: list[int] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
        monkeypatch.setattr(pynvml, "nvmlInit", self._init)
        monkeypatch.setattr(pynvml, "nvmlShutdown", self._shutdown)
        monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: len(self.devices))
        monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", self._fn("handle"))
        names = [n for n in self.devices[0].values if n.startswith("nvml")] if self.devices else []
        for name in names + list(PROC_FNS):
            monkeypatch.setattr(pynvml, name, self._fn(name))
        return self

    def _init(self) -> None:
        self.calls["init"] += 1
        if self.init_error is not None:
            raise self.init_error()

    def _shutdown(self) -> None:
        self.shutdowns += 1

    def _fn(self, name: str):
        def call(handle: Any, *args: Any) -> Any:
            self.calls[name] += 1
            dev = self.devices[handle] if name == "handle" else handle
            err = dev.errors.get(name) or dev.errors.get("*")
            if err is not None:
                raise err()
            if name == "handle":
                return dev
            if name in PROC_FNS:
                return dev.values["procs"]
            if name == "nvmlDeviceGetProcessUtilization":
                self.since.append(args[0])
            value = dev.values[name]
            if isinstance(value, Exception):
                raise value
            return value

        return call


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch):
    def make(n: int = 2) -> FakeNvml:
        return FakeNvml([FakeDevice(i) for i in range(n)]).install(monkeypatch)

    return make


def test_reads_and_converts_units(nvml) -> None:
    nvml(2)
    readout = NvmlGpuSource().read()
    assert readout.ok
    g = readout.gpus[1]
    assert (g.index, g.uuid, g.name) == (1, "GPU-00000001", "NVIDIA Test 16GB")
    assert g.util_pct == 41.0
    assert (g.mem_used_mb, g.mem_total_mb) == (4096.0, 16384.0)
    assert (g.temp_c, g.power_w, g.power_limit_w, g.fan_pct) == (55.0, 123.5, 300.0, 35.0)
    assert g.processes == (GpuProcess(1001, 2048.0, 80.0),)
    assert g.error is None


def test_not_supported_field_is_none_and_not_asked_again(nvml) -> None:
    fake = nvml(2)
    fake.devices[0].errors["nvmlDeviceGetFanSpeed"] = pynvml.NVMLError_NotSupported
    src = NvmlGpuSource()
    for _ in range(3):
        readout = src.read()
    assert readout.gpus[0].fan_pct is None
    assert readout.gpus[0].temp_c == 55.0  # the rest of GPU 0 still read
    assert readout.gpus[1].fan_pct == 35.0  # remembered per GPU, not globally
    assert fake.calls["nvmlDeviceGetFanSpeed"] == 1 + 3


def test_function_not_found_is_remembered_for_all_gpus(nvml) -> None:
    fake = nvml(2)
    for dev in fake.devices:
        dev.errors["nvmlDeviceGetEnforcedPowerLimit"] = pynvml.NVMLError_FunctionNotFound
    src = NvmlGpuSource()
    src.read()
    readout = src.read()
    assert [g.power_limit_w for g in readout.gpus] == [None, None]
    assert fake.calls["nvmlDeviceGetEnforcedPowerLimit"] == 1


def test_process_query_falls_back_from_v3_to_v2(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].errors["nvmlDeviceGetComputeRunningProcesses_v3"] = (
        pynvml.NVMLError_FunctionNotFound
    )
    src = NvmlGpuSource()
    src.read()
    readout = src.read()
    assert [p.pid for p in readout.gpus[0].processes] == [1000]
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses_v3"] == 1
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses_v2"] == 2


def test_process_query_falls_back_to_unversioned(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].errors["nvmlDeviceGetComputeRunningProcesses_v3"] = (
        pynvml.NVMLError_FunctionNotFound
    )
    fake.devices[0].errors["nvmlDeviceGetComputeRunningProcesses_v2"] = (
        pynvml.NVMLError_FunctionNotFound
    )
    readout = NvmlGpuSource().read()
    assert [p.pid for p in readout.gpus[0].processes] == [1000]


def test_unavailable_process_memory_is_none(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].values["procs"] = [
        SimpleNamespace(pid=1, usedGpuMemory=None),  # MIG / WDDM, as pynvml maps it
        SimpleNamespace(pid=2, usedGpuMemory=2**64 - 1),  # NVML_VALUE_NOT_AVAILABLE raw
        SimpleNamespace(pid=3, usedGpuMemory=10**15),  # struct-mismatch garbage > total
        SimpleNamespace(pid=4, usedGpuMemory=100 * MB),
        SimpleNamespace(pid=0, usedGpuMemory=100 * MB),  # not a process
    ]
    procs = NvmlGpuSource().read().gpus[0].processes
    assert [(p.pid, p.used_memory_mb) for p in procs] == [
        (1, None),
        (2, None),
        (3, None),
        (4, 100.0),
    ]


def test_process_utilization_keeps_newest_sane_sample(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].values["procs"] = [
        SimpleNamespace(pid=1, usedGpuMemory=MB),
        SimpleNamespace(pid=2, usedGpuMemory=MB),
        SimpleNamespace(pid=3, usedGpuMemory=MB),
    ]
    fake.devices[0].values["nvmlDeviceGetProcessUtilization"] = [
        SimpleNamespace(pid=1, timeStamp=10, smUtil=20),
        SimpleNamespace(pid=1, timeStamp=30, smUtil=60),
        SimpleNamespace(pid=2, timeStamp=20, smUtil=250),  # bogus, as NVML sometimes says
    ]
    src = NvmlGpuSource()
    procs = src.read().gpus[0].processes
    assert [p.sm_util for p in procs] == [60.0, None, None]
    src.read()
    assert fake.since == [0, 30]  # next query asks only for newer samples


def test_process_utilization_not_found_means_unknown(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].values["nvmlDeviceGetProcessUtilization"] = pynvml.NVMLError_NotFound()
    src = NvmlGpuSource()
    assert src.read().gpus[0].processes == (GpuProcess(1000, 2048.0, None),)
    src.read()
    assert fake.calls["nvmlDeviceGetProcessUtilization"] == 2  # transient: asked again


def test_lost_gpu_sets_error_and_other_gpus_still_read(nvml) -> None:
    fake = nvml(3)
    fake.devices[1].errors["nvmlDeviceGetMemoryInfo"] = pynvml.NVMLError_GpuIsLost
    readout = NvmlGpuSource().read()
    assert readout.ok
    assert [g.error for g in readout.gpus] == [None, "GPU is lost", None]
    assert readout.gpus[1].uuid == "GPU-00000001"  # identity read before it was lost
    assert readout.gpus[2].util_pct == 42.0


def test_lost_gpu_handle_is_fetched_again_after_recovery(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].errors["*"] = pynvml.NVMLError_Unknown
    src = NvmlGpuSource()
    assert src.read().gpus[0].error == "GPU unreadable (unknown NVML error)"
    del fake.devices[0].errors["*"]
    assert src.read().gpus[0].error is None
    assert fake.calls["handle"] == 2


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("NVMLError_LibraryNotFound", "no NVIDIA GPU (NVML library not found)"),
        ("NVMLError_DriverNotLoaded", "no NVIDIA GPU (NVIDIA driver not loaded)"),
        ("NVMLError_LibRmVersionMismatch", "driver and library versions differ"),
    ],
)
def test_init_failures_become_a_status(nvml, error: str, status: str) -> None:
    fake = nvml(1)
    fake.init_error = getattr(pynvml, error)
    readout = NvmlGpuSource().read()
    assert readout.gpus == ()
    assert status in readout.status


def test_no_devices(monkeypatch) -> None:
    FakeNvml([]).install(monkeypatch)
    readout = NvmlGpuSource().read()
    assert readout.gpus == ()
    assert readout.status == "no NVIDIA GPU (NVML found no devices)"


def test_driver_gone_mid_run_then_back_after_retry_interval(nvml) -> None:
    fake = nvml(2)
    clock = Clock()
    src = NvmlGpuSource(clock=clock)
    assert len(src.read().gpus) == 2
    fake.devices[0].errors["nvmlDeviceGetUtilizationRates"] = pynvml.NVMLError_LibRmVersionMismatch
    readout = src.read()
    assert readout.gpus == () and "versions differ" in readout.status
    assert fake.shutdowns == 1
    del fake.devices[0].errors["nvmlDeviceGetUtilizationRates"]
    clock.t += 29
    assert src.read().gpus == ()
    assert fake.calls["init"] == 1
    clock.t += 2
    assert len(src.read().gpus) == 2
    assert fake.calls["init"] == 2


def test_unexpected_exception_never_escapes(nvml) -> None:
    fake = nvml(1)
    fake.devices[0].values["nvmlDeviceGetMemoryInfo"] = RuntimeError("ctypes surprise")
    readout = NvmlGpuSource().read()
    assert readout.gpus == ()
    assert readout.status == "GPU readout failed (see log)"


def test_static_identity_is_read_once(nvml) -> None:
    fake = nvml(1)
    src = NvmlGpuSource()
    for _ in range(3):
        src.read()
    assert fake.calls["nvmlDeviceGetName"] == 1
    assert fake.calls["handle"] == 1


def test_close_shuts_down_and_read_initializes_again(nvml) -> None:
    fake = nvml(1)
    src = NvmlGpuSource()
    src.read()
    src.close()
    assert fake.shutdowns == 1
    assert src.read().ok
    assert fake.calls["init"] == 2


def test_missing_nvidia_ml_py(monkeypatch) -> None:
    monkeypatch.setattr(gpu_mod, "pynvml", None)
    readout = NvmlGpuSource().read()
    assert readout.gpus == ()
    assert readout.status == "no NVIDIA GPU (nvidia-ml-py is not installed)"
