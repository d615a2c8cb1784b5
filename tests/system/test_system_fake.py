"""FakeGpuSource: the shapes the TUI and tests rely on."""

from __future__ import annotations

import dataclasses

import pytest

from tuitune.system.fake import NO_DEVICES, FakeGpuSource, fake_readout
from tuitune.system.types import OK, GpuProcess


@pytest.mark.parametrize("n", [1, 8])
def test_n_gpus_have_distinct_indices_and_uuids(n: int) -> None:
    readout = FakeGpuSource(n).read()
    assert readout.ok
    assert [g.index for g in readout.gpus] == list(range(n))
    assert len({g.uuid for g in readout.gpus}) == n
    assert all(g.error is None and g.mem_total_mb == 16384.0 for g in readout.gpus)


def test_zero_gpus_reads_like_nvml_with_no_devices() -> None:
    readout = FakeGpuSource(0).read()
    assert readout.gpus == ()
    assert readout.status == NO_DEVICES
    assert not readout.ok


def test_library_missing_status() -> None:
    readout = FakeGpuSource.library_missing().read()
    assert readout.gpus == ()
    assert readout.status == "no NVIDIA GPU (NVML library not found)"


def test_processes_memory_adds_to_used_memory() -> None:
    src = FakeGpuSource(2)
    src.set_base_memory(1, 300.0)
    src.set_processes(1, {42: 1000.0, 7: 24.0}, sm_util={42: 55.0})
    gpu = src.read().gpus[1]
    assert gpu.processes == (GpuProcess(7, 24.0, None), GpuProcess(42, 1000.0, 55.0))
    assert gpu.mem_used_mb == 1324.0
    assert gpu.mem_pct == pytest.approx(100 * 1324 / 16384)
    src.remove_process(42)
    assert [p.pid for p in src.read().gpus[1].processes] == [7]


def test_mig_mode_hides_utilization_and_per_process_memory() -> None:
    src = FakeGpuSource(1, mig=True)
    src.set_processes(0, {42: 1000.0})
    gpu = src.read().gpus[0]
    assert gpu.util_pct is None
    assert gpu.processes == (GpuProcess(42, None, None),)
    assert gpu.mem_used_mb == 1000.0  # device memory is still known under MIG


def test_lost_gpu_keeps_the_others() -> None:
    src = FakeGpuSource(3)
    src.lose(1)
    gpus = src.read().gpus
    assert [g.error for g in gpus] == [None, "GPU is lost", None]
    assert gpus[1].util_pct is None and gpus[1].processes == ()
    src.recover(1)
    assert src.read().gpus[1].error is None


def test_values_are_deterministic_without_seed_and_reproducible_with_one() -> None:
    assert FakeGpuSource(4).read() == FakeGpuSource(4).read()
    a, b = FakeGpuSource(2, seed=3), FakeGpuSource(2, seed=3)
    series_a = [a.read().gpus[0].util_pct for _ in range(5)]
    assert series_a == [b.read().gpus[0].util_pct for _ in range(5)]
    assert len(set(series_a)) > 1
    assert all(0.0 <= u <= 100.0 for u in series_a)


def test_samples_are_frozen_and_reads_counted() -> None:
    src = FakeGpuSource(1)
    gpu = src.read().gpus[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gpu.util_pct = 5.0  # type: ignore[misc]
    assert src.reads == 1
    src.close()
    assert src.closed


def test_fake_readout_helper() -> None:
    readout = fake_readout(2, mig=True)
    assert readout.status == OK
    assert len(readout.gpus) == 2
    assert readout.gpus[0].util_pct is None
