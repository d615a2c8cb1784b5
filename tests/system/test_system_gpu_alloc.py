"""GpuAllocator: the allocation rules, pinned exactly."""

from __future__ import annotations

import pytest

from tuitune.engine.gpu_alloc import (
    Assignment,
    Gpu,
    GpuAllocator,
    GpuWait,
    decide,
    parse_cuda_visible_devices,
    parse_request,
)

GB = 1024.0


def two_gpus() -> GpuAllocator:
    return GpuAllocator([(0, 16 * GB), (1, 16 * GB)])


@pytest.mark.parametrize(
    ("request_", "parsed"),
    [(0, (0, 0.0)), (0.25, (1, 0.25)), (0.5, (1, 0.5)), (1, (1, 1.0)), (2.0, (2, 1.0))],
)
def test_parse_request(request_: float, parsed: tuple[int, float]) -> None:
    assert parse_request(request_) == parsed


@pytest.mark.parametrize("bad", [-1, 1.5, float("nan"), float("inf")])
def test_parse_request_rejects(bad: float) -> None:
    with pytest.raises(ValueError):
        parse_request(bad)


def test_zero_gpus_hides_all_gpus() -> None:
    a = two_gpus().allocate(1, 0)
    assert a == Assignment((), 0.0)
    assert a.cuda_visible_devices == ""
    assert a.env() == {"CUDA_VISIBLE_DEVICES": "", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def test_quarter_share_packs_onto_least_loaded_gpu_four_per_gpu() -> None:
    alloc = two_gpus()
    got = [alloc.allocate(t, 0.25) for t in range(8)]
    assert [a.gpu_ids for a in got] == [(0,), (1,), (0,), (1,), (0,), (1,), (0,), (1,)]
    assert all(a.share == 0.25 for a in got)
    assert alloc.load(0) == 1.0 and alloc.load(1) == 1.0
    wait = alloc.allocate(8, 0.25)
    assert wait == GpuWait("every GPU is full (4 trials per GPU at 0.25 each)")
    assert 8 not in alloc.assignments


def test_fraction_that_does_not_divide_one() -> None:
    alloc = GpuAllocator([(0, 16 * GB)])
    assert [alloc.allocate(t, 0.3) for t in range(3)] == [Assignment((0,), 0.3)] * 3
    assert alloc.allocate(3, 0.3) == GpuWait("every GPU is full (3 trials per GPU at 0.3 each)")


def test_release_frees_a_slot() -> None:
    alloc = GpuAllocator([(0, 16 * GB)])
    for t in range(2):
        alloc.allocate(t, 0.5)
    assert isinstance(alloc.allocate(2, 0.5), GpuWait)
    assert alloc.release(0) == Assignment((0,), 0.5)
    assert alloc.release(0) is None  # idempotent
    assert alloc.allocate(2, 0.5) == Assignment((0,), 0.5)


def test_least_loaded_tie_broken_by_free_memory_then_index() -> None:
    alloc = GpuAllocator([(0, 16 * GB), (1, 16 * GB), (2, 16 * GB)])
    assert alloc.allocate(1, 0.5, free_mb={0: 8 * GB, 1: 12 * GB, 2: 12 * GB}).gpu_ids == (1,)
    assert alloc.allocate(2, 0.5).gpu_ids == (0,)  # 0 and 2 are empty: lower index


def test_whole_gpus_take_unheld_gpus_lowest_index_first() -> None:
    alloc = GpuAllocator([(i, 16 * GB) for i in range(4)])
    assert alloc.allocate(1, 0.5) == Assignment((0,), 0.5)
    assert alloc.allocate(2, 2) == Assignment((1, 2), 1.0)
    assert alloc.allocate(2, 2).cuda_visible_devices == "1,2"  # already held: same answer
    assert alloc.allocate(3, 1) == Assignment((3,), 1.0)
    assert alloc.allocate(4, 1) == GpuWait(
        "needs 1 free GPU, 0 free (GPU 0: trial 1; GPU 1: trial 2; GPU 2: trial 2; GPU 3: trial 3)"
    )


def test_whole_gpu_is_never_shared() -> None:
    alloc = two_gpus()
    alloc.allocate(1, 1)
    alloc.allocate(2, 0.25)
    got = alloc.allocate(3, 0.25)
    assert got == Assignment((1,), 0.25)
    assert alloc.assignments[1].gpu_ids == (0,)


def test_mixed_shares_never_exceed_one_gpu() -> None:
    alloc = GpuAllocator([(0, 16 * GB)])
    alloc.allocate(1, 0.5)
    alloc.allocate(2, 0.25)
    assert alloc.allocate(3, 0.5) == GpuWait("every GPU is full (2 trials per GPU at 0.5 each)")
    assert alloc.allocate(4, 0.25) == Assignment((0,), 0.25)


def test_wait_when_measured_free_memory_is_below_peak() -> None:
    alloc = GpuAllocator([(0, 16 * GB)])
    got = alloc.allocate(1, 0.5, free_mb={0: 2.1 * GB}, peak_mb=5.3 * GB)
    assert got == GpuWait("GPU 0 has 2.1 GB free, similar trials peaked at 5.3 GB")
    assert not got.permanent
    assert alloc.allocate(1, 0.5, free_mb={0: 6 * GB}, peak_mb=5.3 * GB) == Assignment((0,), 0.5)


def test_wait_when_trials_on_a_gpu_could_not_all_reach_their_peak() -> None:
    """Four trials started together show plenty of free memory: count peaks instead."""
    alloc = GpuAllocator([(0, 16 * GB)])
    for t in range(3):
        assert alloc.allocate(t, 0.25, free_mb={0: 15 * GB}, peak_mb=5 * GB).gpu_ids == (0,)
    assert alloc.allocate(3, 0.25, free_mb={0: 15 * GB}, peak_mb=5 * GB) == GpuWait(
        "GPU 0 would hold 4 trials that peaked at 5.0 GB each, more than its 16.0 GB"
    )


def test_memory_problem_on_one_gpu_sends_trial_to_another() -> None:
    alloc = two_gpus()
    got = alloc.allocate(1, 1, free_mb={0: 1 * GB, 1: 15 * GB}, peak_mb=4 * GB)
    assert got == Assignment((1,), 1.0)


def test_whole_gpu_memory_wait_names_every_gpu() -> None:
    got = two_gpus().allocate(1, 1, free_mb={0: 1 * GB, 1: 2 * GB}, peak_mb=4 * GB)
    assert got == GpuWait(
        "GPU 0 has 1.0 GB free, similar trials peaked at 4.0 GB; "
        "GPU 1 has 2.0 GB free, similar trials peaked at 4.0 GB"
    )


def test_permanent_waits() -> None:
    assert GpuAllocator([]).allocate(1, 0.5) == GpuWait(
        "no GPU is visible, but gpus_per_trial=0.5", permanent=True
    )
    assert two_gpus().allocate(1, 3) == GpuWait("asks for 3 GPUs, only 2 visible", permanent=True)
    assert two_gpus().allocate(1, 1, peak_mb=20 * GB) == GpuWait(
        "similar trials peaked at 20.0 GB, the largest GPU has 16.0 GB", permanent=True
    )
    assert GpuAllocator([]).allocate(1, 0) == Assignment((), 0.0)  # CPU trials always start


def test_adopt_restores_assignments_after_restart() -> None:
    alloc = two_gpus()
    alloc.adopt(5, ((0,), 1.0))
    alloc.adopt(6, Assignment((1,), 0.5))
    assert alloc.allocate(7, 1) == GpuWait(
        "needs 1 free GPU, 0 free (GPU 0: trial 5; GPU 1: trial 6)")
    assert alloc.allocate(7, 0.5) == Assignment((1,), 0.5)


def test_decide_is_pure() -> None:
    gpus = [Gpu(0, 16 * GB)]
    current = {1: ((0,), 0.5)}
    assert decide(gpus, 0.5, current) == Assignment((0,), 0.5)
    assert decide(gpus, 0.5, current) == Assignment((0,), 0.5)
    assert current == {1: ((0,), 0.5)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (0, 1, 2, 3)),
        ("", ()),
        ("2,3", (2, 3)),
        ("1,7,2", (1,)),  # CUDA stops at the first invalid ordinal
        ("-1", ()),
        ("GPU-abc", (0, 1, 2, 3)),  # UUIDs: not guessed at
    ],
)
def test_parse_cuda_visible_devices(value: str | None, expected: tuple[int, ...]) -> None:
    assert parse_cuda_visible_devices(value, [0, 1, 2, 3]) == expected
