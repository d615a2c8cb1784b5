"""SystemSampler: GPU processes mapped to trials through real process trees."""

from __future__ import annotations

import math
import os
import signal
import time
import types

import psutil
import pytest

from tuitune.system.fake import FakeGpuSource
from tuitune.system.host import identify
from tuitune.system.proctable import PsutilTable
from tuitune.system.sampler import SystemSampler, gpu_mem_key, gpu_util_key, is_stale
from tuitune.system.trees import ProcessTrees
from tuitune.system.types import GpuProcess, HostSample


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_grandchild_on_gpu_maps_to_its_trial_and_stranger_is_orphan(spawn_tree) -> None:
    a, b = spawn_tree(2), spawn_tree(1)
    stranger = os.getpid()  # the test runner: in no trial tree
    src = FakeGpuSource(2)
    src.set_processes(0, {a.leaf_pid: 2048.0, stranger: 100.0})
    src.set_processes(1, {a.leaf_pid: 1024.0, b.leaf_pid: 512.0})
    sampler = SystemSampler(src, clock=Clock())

    snap = sampler.sample({7: identify(a.root.pid), 9: identify(b.root.pid)})

    ta, tb = snap.trials[7], snap.trials[9]
    assert sorted(ta.pids) == sorted(a.pids) and len(ta.pids) == 3
    assert ta.gpu_ids == (0, 1)
    assert ta.gpu_mem_mb == 3072.0
    assert tb.gpu_ids == (1,) and tb.gpu_mem_mb == 512.0
    assert ta.rss_mb > 0 and tb.rss_mb > 0
    assert snap.orphans == ((0, GpuProcess(stranger, 100.0, None)),)
    assert snap.gpu_owners == {a.leaf_pid: 7, b.leaf_pid: 9}


def test_trial_without_gpu_processes_holds_zero_gpu_memory(spawn_tree) -> None:
    tree = spawn_tree(0)
    snap = SystemSampler(FakeGpuSource(1)).sample({1: identify(tree.root.pid)})
    assert snap.trials[1].gpu_ids == ()
    assert snap.trials[1].gpu_mem_mb == 0.0


def test_mig_per_process_memory_unknown_gives_none(spawn_tree) -> None:
    tree = spawn_tree(1)
    src = FakeGpuSource(1, mig=True)
    src.set_processes(0, {tree.leaf_pid: 4096.0})
    snap = SystemSampler(src).sample({3: identify(tree.root.pid)})
    assert snap.trials[3].gpu_ids == (0,)  # still mapped by pid
    assert snap.trials[3].gpu_mem_mb is None  # but not a made-up 0


def test_no_gpu_library_still_samples_host_and_trials(spawn_tree) -> None:
    tree = spawn_tree(0)
    snap = SystemSampler(FakeGpuSource.library_missing()).sample({1: identify(tree.root.pid)})
    assert snap.gpus == ()
    assert snap.gpu_status.startswith("no NVIDIA GPU")
    assert snap.host.ram_total_mb > 0
    assert snap.trials[1].pids == (tree.root.pid,)
    assert snap.trials[1].gpu_mem_mb is None


@pytest.mark.parametrize("n", [0, 8])
def test_zero_and_eight_gpus(n: int) -> None:
    snap = SystemSampler(FakeGpuSource(n)).sample({})
    assert len(snap.gpus) == n
    assert snap.trials == {}


def test_lost_gpu_is_reported_and_others_still_mapped(spawn_tree) -> None:
    tree = spawn_tree(1)
    src = FakeGpuSource(2)
    src.set_processes(1, {tree.leaf_pid: 900.0})
    src.lose(0)
    snap = SystemSampler(src).sample({4: identify(tree.root.pid)})
    assert snap.gpus[0].error == "GPU is lost"
    assert snap.trials[4].gpu_ids == (1,)


def test_trial_whose_root_exited_between_samples(spawn_tree) -> None:
    tree = spawn_tree(0)
    ident = identify(tree.root.pid)
    src = FakeGpuSource(1)
    src.set_processes(0, {tree.root.pid: 500.0})
    sampler = SystemSampler(src)
    assert sampler.sample({1: ident}).trials[1].gpu_ids == (0,)
    tree.root.kill()
    tree.root.wait(timeout=10)
    snap = sampler.sample({1: ident})  # NVML may still list a pid that just died
    assert snap.trials[1].pids == ()
    assert snap.trials[1].gpu_ids == ()
    assert snap.orphans == ((0, GpuProcess(tree.root.pid, 500.0, None)),)


def test_leaf_killed_between_samples_drops_out_of_pids(spawn_tree) -> None:
    tree = spawn_tree(2)
    ident = identify(tree.root.pid)
    sampler = SystemSampler(FakeGpuSource(1))
    assert tree.leaf_pid in sampler.sample({1: ident}).trials[1].pids
    os.kill(tree.leaf_pid, signal.SIGKILL)  # its parent never reaps it: a zombie
    for _ in range(500):
        if psutil.Process(tree.leaf_pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.01)
    pids = sampler.sample({1: ident}).trials[1].pids
    assert tree.leaf_pid not in pids
    assert len(pids) == 2


def test_psutil_reader_tolerates_processes_vanishing_or_denied_mid_sample(
    spawn_tree, monkeypatch
) -> None:
    tree = spawn_tree(2)
    ident = identify(tree.root.pid)
    middle = next(p for p in tree.pids if p not in (tree.root.pid, tree.leaf_pid))
    sampler = SystemSampler(FakeGpuSource(1), trees=ProcessTrees(PsutilTable()))
    real_oneshot = psutil.Process.oneshot

    def oneshot(self: psutil.Process):
        if self.pid == tree.leaf_pid:  # gone between the tree scan and the read
            raise psutil.NoSuchProcess(self.pid)
        if self.pid == middle:
            raise psutil.AccessDenied(self.pid)
        return real_oneshot(self)

    monkeypatch.setattr(psutil.Process, "oneshot", oneshot)
    usage = sampler.sample({1: ident}).trials[1]
    assert tree.leaf_pid not in usage.pids  # vanished: dropped
    assert middle in usage.pids  # alive but unreadable: kept, not summed
    root_rss = psutil.Process(tree.root.pid).memory_info().rss / 2**20
    assert usage.rss_mb == pytest.approx(root_rss, rel=0.1)


def test_injected_host_and_trees_are_used(spawn_tree) -> None:
    tree = spawn_tree(0)
    host = HostSample(cpu_pct=12.0, ncpu=8, ram_used_mb=1000.0, ram_total_mb=4000.0)
    sampler = SystemSampler(FakeGpuSource(1), host=lambda: host,
                            trees=ProcessTrees(PsutilTable()))
    snap = sampler.sample({1: identify(tree.root.pid)})
    assert snap.host == host
    assert sampler.history()["host.ram"] == (25.0,)
    assert snap.trials[1].pids == (tree.root.pid,)


def test_history_fixed_scale_nan_for_unavailable_and_aligned() -> None:
    clock = Clock()
    src = FakeGpuSource(2)
    src.set_util(0, 97.0)
    sampler = SystemSampler(src, clock=clock, history=3)
    for step in range(5):
        clock.t = 1000.0 + step
        if step == 3:
            src.lose(1)
        sampler.sample({})
    hist = sampler.history()
    assert hist["t"] == (1002.0, 1003.0, 1004.0)  # only the last 3 kept
    assert hist[gpu_util_key(0)] == (97.0, 97.0, 97.0)  # raw percent, not rescaled
    util1 = hist[gpu_util_key(1)]
    assert util1[0] == 10.0 and math.isnan(util1[1]) and math.isnan(util1[2])
    assert hist[gpu_mem_key(0)] == (0.0, 0.0, 0.0)
    assert all(len(v) == 3 for v in hist.values())
    assert all(0.0 <= v <= 100.0 for v in hist["host.cpu"] + hist["host.ram"])


def test_history_pads_a_gpu_that_appears_late() -> None:
    src = FakeGpuSource.library_missing()
    sampler = SystemSampler(src, clock=Clock())
    sampler.sample({})
    src.status = "ok"
    src._gpus = FakeGpuSource(1)._gpus  # the driver came back with one GPU
    sampler.sample({})
    util = sampler.history()[gpu_util_key(0)]
    assert len(util) == 2 and math.isnan(util[0]) and util[1] == 0.0


def test_snapshot_time_age_and_staleness() -> None:
    clock = Clock(500.0)
    sampler = SystemSampler(FakeGpuSource(1), clock=clock)
    assert sampler.latest is None
    assert is_stale(None, now=500.0)
    snap = sampler.sample({})
    assert sampler.latest is snap
    assert snap.t == 500.0
    assert snap.age(502.0) == 2.0
    assert not is_stale(snap, now=503.0)
    assert is_stale(snap, now=503.5)
    assert is_stale(snap, now=501.0, max_age=0.5)


def test_snapshot_trials_are_read_only() -> None:
    snap = SystemSampler(FakeGpuSource(1)).sample({})
    assert isinstance(snap.trials, types.MappingProxyType)
    with pytest.raises(TypeError):
        snap.trials[1] = None  # type: ignore[index]


def test_close_closes_the_source() -> None:
    src = FakeGpuSource(1)
    SystemSampler(src).close()
    assert src.closed
