"""psutil side: identities, process trees, usage sums, host CPU/RAM."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from tuitune.system.host import (
    HostProbe,
    ProcessTable,
    children_map,
    identify,
    process_tree,
    tree_usage,
)
from tuitune.system.types import ProcessIdentity


def test_identify_live_and_missing_pid() -> None:
    me = identify(os.getpid())
    assert me is not None
    assert me.pid == os.getpid()
    assert me.create_time == pytest.approx(psutil.Process().create_time())
    assert identify(2**22 + 12345) is None  # above Linux's pid_max: never a process


def test_process_tree_contains_root_child_and_grandchild(spawn_tree) -> None:
    tree = spawn_tree(2)
    ident = identify(tree.root.pid)
    assert ident is not None
    pids = [p.pid for p in process_tree(ident)]
    assert pids[0] == tree.root.pid
    assert tree.leaf_pid in pids
    assert len(pids) == 3
    assert sorted(pids) == sorted(tree.pids)


def test_process_tree_rejects_wrong_create_time(spawn_tree) -> None:
    tree = spawn_tree(0)
    ident = identify(tree.root.pid)
    assert ident is not None
    stale = ProcessIdentity(ident.pid, ident.create_time - 5.0)  # same pid, other process
    assert process_tree(stale) == []
    assert [p.pid for p in process_tree(ident)] == [tree.root.pid]


def test_children_map_links_parent_to_child(spawn_tree) -> None:
    tree = spawn_tree(1)
    kids = children_map()
    assert tree.leaf_pid in kids[tree.root.pid]


def test_tree_usage_sums_rss_over_tree(spawn_tree) -> None:
    tree = spawn_tree(2)
    ident = identify(tree.root.pid)
    procs = process_tree(ident)
    pids, cpu, rss = tree_usage(procs)
    expected = sum(psutil.Process(p).memory_info().rss for p in tree.pids) / 2**20
    assert sorted(pids) == sorted(tree.pids)
    assert cpu >= 0.0
    assert rss == pytest.approx(expected, rel=0.2)  # three pythons: tens of MB


def test_tree_usage_skips_process_that_vanished_after_scan(spawn_tree) -> None:
    tree = spawn_tree(0)
    procs = process_tree(identify(tree.root.pid))
    tree.root.kill()
    tree.root.wait(timeout=10)  # reaped: the pid is gone for good
    assert tree_usage(procs) == ((), 0.0, 0.0)


def test_tree_usage_skips_zombie_leaf(spawn_tree) -> None:
    tree = spawn_tree(1)
    table = ProcessTable()
    table.refresh()
    ident = identify(tree.root.pid)
    assert tree.leaf_pid in tree_usage(table.process_tree(ident))[0]
    os.kill(tree.leaf_pid, signal.SIGKILL)  # its parent never waits: a zombie
    _wait_for_status(tree.leaf_pid, psutil.STATUS_ZOMBIE)
    table.refresh()
    pids, _, _ = tree_usage(table.process_tree(ident))
    assert pids == (tree.root.pid,)


def test_tree_usage_tolerates_errors_raised_mid_scan(spawn_tree, monkeypatch) -> None:
    tree = spawn_tree(2)
    procs = process_tree(identify(tree.root.pid))
    middle = next(p.pid for p in procs if p.pid not in (tree.root.pid, tree.leaf_pid))
    real = psutil.Process.cpu_percent  # memory_info is memoized by oneshot(): not patchable

    def flaky(self: psutil.Process, interval: float | None = None) -> float:
        if self.pid == tree.leaf_pid:
            raise psutil.NoSuchProcess(self.pid)
        if self.pid == middle:
            raise psutil.AccessDenied(self.pid)
        return real(self, interval)

    monkeypatch.setattr(psutil.Process, "cpu_percent", flaky)
    pids, _, rss = tree_usage(procs)
    assert tree.leaf_pid not in pids  # vanished: dropped
    assert middle in pids  # alive but unreadable: kept, not summed
    assert rss == pytest.approx(psutil.Process(tree.root.pid).memory_info().rss / 2**20, rel=0.2)


def test_table_keeps_process_objects_so_cpu_percent_has_a_baseline(spawn_tree) -> None:
    tree = spawn_tree(0)
    table = ProcessTable()
    ident = identify(tree.root.pid)
    table.refresh()
    first = table.process_tree(ident)[0]
    table.refresh()
    assert table.process_tree(ident)[0] is first


def test_table_forgets_gone_processes(spawn_tree) -> None:
    tree = spawn_tree(0)
    table = ProcessTable()
    ident = identify(tree.root.pid)
    table.refresh()
    assert table.process_tree(ident)
    tree.root.kill()
    tree.root.wait(timeout=10)
    table.refresh()
    assert table.process_tree(ident) == []
    assert tree.root.pid not in table._procs


def test_host_sample_is_sane() -> None:
    probe = HostProbe()
    sample = probe.sample()
    assert sample.ncpu == psutil.cpu_count()
    assert 0.0 <= sample.cpu_pct <= 100.0
    assert 0.0 < sample.ram_used_mb < sample.ram_total_mb
    assert 0.0 < sample.ram_pct < 100.0


def test_host_cpu_is_measured_across_threads() -> None:
    """A new thread per sample (Textual workers) must still see the CPU load."""
    probe = HostProbe()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn 0.3 s of CPU on one core
        pass
    results = []
    worker = threading.Thread(target=lambda: results.append(probe.sample()))
    worker.start()
    worker.join()
    assert results[0].cpu_pct > 0.0


def _wait_for_status(pid: int, status: str) -> None:
    for _ in range(500):
        if psutil.Process(pid).status() == status:
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} never became {status}")
