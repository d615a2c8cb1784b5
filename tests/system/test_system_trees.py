"""Trial trees through both process-table readers, on real process trees.

Every test runs once over ``/proc`` and once over psutil, and some compare the
two on the same processes: they must agree on who is in a tree, who is alive,
and (within the drift of a live process) how much memory the tree holds.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tuitune.system import proctable
from tuitune.system.host import identify
from tuitune.system.proctable import ProcfsTable, ProcRow, PsutilTable
from tuitune.system.trees import EMPTY, ProcessTrees
from tuitune.system.types import ProcessIdentity

READERS = {"procfs": ProcfsTable, "psutil": PsutilTable}

# The root starts a child in a new session (setsid), which starts a grandchild.
SETSID_TREE = """\
import subprocess, sys, time
code = "import subprocess, sys, time; g = subprocess.Popen(['sleep', '600']); "
code += "print(g.pid, flush=True); time.sleep(600)"
child = subprocess.Popen([sys.executable, '-c', code], start_new_session=True,
                         stdout=subprocess.PIPE, text=True)
grandchild = child.stdout.readline().strip()
print(child.pid, grandchild, flush=True)
time.sleep(600)
"""

# The root waits for its child, so a killed child is reaped at once: it is gone,
# not a zombie.
REAPING_TREE = """\
import subprocess, time
child = subprocess.Popen(['sleep', '600'])
print(child.pid, flush=True)
child.wait()
time.sleep(600)
"""

# A child subreaper (as the launcher is) whose middle child exits: the leaf is
# reparented to the root.
SUBREAPER_TREE = """\
import ctypes, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
code = "import subprocess, time; l = subprocess.Popen(['sleep', '600']); "
code += "print(l.pid, flush=True); time.sleep(600)"
middle = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
print(middle.pid, middle.stdout.readline().strip(), flush=True)
middle.wait()
time.sleep(600)
"""

# Starts a child each time it gets SIGUSR1, and prints its pid.
FORKS_ON_SIGNAL = """\
import os, signal, subprocess, time
kids = []
def fork(*_):
    kids.append(subprocess.Popen(['sleep', '600']))
    print(kids[-1].pid, flush=True)
signal.signal(signal.SIGUSR1, fork)
print(os.getpid(), flush=True)
while True:
    time.sleep(600)
"""

BUSY_CHILD = """\
import subprocess, sys
child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
print(child.pid, flush=True)
child.wait()
"""


@pytest.fixture(params=sorted(READERS))
def reader(request: pytest.FixtureRequest) -> str:
    return request.param


def _trees(reader: str) -> ProcessTrees:
    return ProcessTrees(READERS[reader]())


def _measure(reader: str, ident: ProcessIdentity):
    trees = _trees(reader)
    trees.refresh()
    return trees.usage(ident)


def test_tree_holds_root_child_and_grandchild(spawn_tree, reader) -> None:
    tree = spawn_tree(2)
    usage = _measure(reader, identify(tree.root.pid))
    assert usage.pids[0] == tree.root.pid
    assert sorted(usage.pids) == sorted(tree.pids) and len(usage.pids) == 3
    assert usage.members == usage.pids


def test_wrong_create_time_is_another_process(spawn_tree, reader) -> None:
    tree = spawn_tree(0)
    ident = identify(tree.root.pid)
    assert _measure(reader, ProcessIdentity(ident.pid, ident.create_time - 5.0)) is EMPTY
    assert _measure(reader, ident).pids == (tree.root.pid,)


def test_missing_root_is_empty(reader) -> None:
    assert _measure(reader, ProcessIdentity(2**22 + 12345, 0.0)) is EMPTY


def test_rss_is_summed_over_the_tree(spawn_tree, reader) -> None:
    tree = spawn_tree(2)
    usage = _measure(reader, identify(tree.root.pid))
    expected = sum(psutil.Process(p).memory_info().rss for p in tree.pids) / 2**20
    assert usage.rss_mb == pytest.approx(expected, rel=0.1)  # three pythons: tens of MB


def test_setsid_child_and_its_child_stay_in_the_tree(spawn_py, reader) -> None:
    script = spawn_py(SETSID_TREE)
    child, grandchild = script.printed
    assert os.getsid(child) != os.getsid(script.root.pid)
    usage = _measure(reader, identify(script.root.pid))
    assert sorted(usage.pids) == sorted([script.root.pid, child, grandchild])


def test_zombie_is_a_member_but_not_alive(spawn_tree, reader) -> None:
    tree = spawn_tree(1)
    ident = identify(tree.root.pid)
    trees = _trees(reader)
    trees.refresh()
    before = trees.usage(ident)
    os.kill(tree.leaf_pid, signal.SIGKILL)  # its parent never waits: a zombie
    _wait_for(lambda: psutil.Process(tree.leaf_pid).status() == psutil.STATUS_ZOMBIE)
    trees.refresh()
    after = trees.usage(ident)
    assert tree.leaf_pid in before.pids
    assert after.pids == (tree.root.pid,)
    assert tree.leaf_pid in after.members  # NVML may still list it
    assert after.rss_mb < before.rss_mb


def test_process_exiting_mid_sample_is_left_out(spawn_py, reader, monkeypatch) -> None:
    """The child is listed by the scan, then exits (and is reaped) before its row is read."""
    script = spawn_py(REAPING_TREE)
    (child,) = script.printed
    ident = identify(script.root.pid)

    def kill_child_after(listing):
        def listed(*args):
            result = listing(*args)
            os.kill(child, signal.SIGKILL)
            _wait_for(lambda: not psutil.pid_exists(child))  # reaped by its parent
            return result
        return listed

    if reader == "procfs":  # between listing /proc and reading each stat file
        monkeypatch.setattr(proctable, "_list_pids", kill_child_after(proctable._list_pids))
    else:  # between the parent map and the row reads
        monkeypatch.setattr(psutil, "_ppid_map", kill_child_after(psutil._ppid_map))
    usage = _measure(reader, ident)
    assert usage.pids == usage.members == (script.root.pid,)


def test_orphan_reparented_to_a_subreaper_root_stays_in_the_tree(spawn_py, reader) -> None:
    script = spawn_py(SUBREAPER_TREE)
    middle, leaf = script.printed
    ident = identify(script.root.pid)
    trees = _trees(reader)
    trees.refresh()
    assert sorted(trees.usage(ident).pids) == sorted([script.root.pid, middle, leaf])
    os.kill(middle, signal.SIGKILL)
    _wait_for(lambda: psutil.Process(leaf).ppid() == script.root.pid)
    _wait_for(lambda: not psutil.pid_exists(middle))  # reaped by the root
    trees.refresh()
    assert sorted(trees.usage(ident).pids) == sorted([script.root.pid, leaf])


def test_child_started_between_samples_joins_the_tree(spawn_py, reader) -> None:
    script = spawn_py(FORKS_ON_SIGNAL)
    ident = identify(script.root.pid)
    trees = _trees(reader)
    for expected in range(1, 4):  # past the first (full) scan of /proc
        trees.refresh()
        usage = trees.usage(ident)
        assert len(usage.pids) == expected and usage.pids[0] == script.root.pid
        os.kill(script.root.pid, signal.SIGUSR1)
        assert script.root.stdout.readline().strip().isdigit()  # killed with the group
    trees.refresh()
    assert len(trees.usage(ident).pids) == 4


def test_cpu_is_zero_at_first_sight_then_measured(spawn_py, reader) -> None:
    script = spawn_py(BUSY_CHILD)
    (child,) = script.printed
    ident = identify(script.root.pid)
    trees = _trees(reader)
    trees.refresh()
    assert trees.usage(ident).cpu_pct == 0.0  # no baseline yet
    start = psutil.Process(child).cpu_times()
    _wait_for(lambda: sum(psutil.Process(child).cpu_times()[:2]) > sum(start[:2]) + 0.05)
    trees.refresh()
    usage = trees.usage(ident)
    assert child in usage.pids
    assert usage.cpu_pct > 0.0


def test_both_readers_agree_on_the_same_trees(spawn_tree, spawn_py) -> None:
    plain, deep = spawn_tree(0), spawn_tree(3)
    setsid = spawn_py(SETSID_TREE)
    zombie_tree = spawn_tree(1)
    os.kill(zombie_tree.leaf_pid, signal.SIGKILL)
    _wait_for(lambda: psutil.Process(zombie_tree.leaf_pid).status() == psutil.STATUS_ZOMBIE)
    idents = [identify(p.pid) for p in (plain.root, deep.root, setsid.root, zombie_tree.root)]
    fast, portable = _trees("procfs"), _trees("psutil")
    fast.refresh()
    portable.refresh()
    for ident in idents:
        a, b = fast.usage(ident), portable.usage(ident)
        assert a.members and sorted(a.members) == sorted(b.members)
        assert sorted(a.pids) == sorted(b.pids)
        assert a.rss_mb == pytest.approx(b.rss_mb, rel=0.05)
    assert zombie_tree.leaf_pid in fast.usage(idents[3]).members


def test_procfs_start_time_matches_psutil_create_time(spawn_tree) -> None:
    tree = spawn_tree(1)
    table = ProcfsTable()
    table.scan()
    for pid in tree.pids:
        assert table.row(pid).start == pytest.approx(psutil.Process(pid).create_time(), abs=1e-6)
        assert table.row(pid).ppid == psutil.Process(pid).ppid()


def test_procfs_reads_a_process_name_with_spaces_and_parentheses(spawn_py) -> None:
    script = spawn_py(
        "import os, time\n"
        "open('/proc/self/comm', 'w').write('a) b (c')\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(600)\n"
    )
    assert psutil.Process(script.root.pid).name() == "a) b (c"
    table = ProcfsTable()
    table.scan()
    row = table.row(script.root.pid)
    assert row.ppid == os.getpid()
    assert row.rss == pytest.approx(psutil.Process(script.root.pid).memory_info().rss, rel=0.05)


def test_default_table_falls_back_to_psutil_without_proc(tmp_path) -> None:
    missing = str(tmp_path / "no-proc")
    assert not proctable.procfs_readable(missing)
    assert isinstance(proctable.default_table(missing), PsutilTable)
    if proctable.procfs_readable():
        assert isinstance(proctable.default_table(), ProcfsTable)


class ScriptedTable:
    """A process table the test writes by hand, for the walker's own rules."""

    def __init__(self) -> None:
        self.rows: dict[int, ProcRow] = {}

    def scan(self) -> None:
        pass

    def children(self, pid: int) -> list[int]:
        return [child for child, row in self.rows.items() if row.ppid == pid]

    def row(self, pid: int) -> ProcRow | None:
        return self.rows.get(pid)


def test_walker_skips_a_child_older_than_the_root_and_computes_cpu_from_deltas() -> None:
    table, now = ScriptedTable(), [100.0]
    trees = ProcessTrees(table, clock=lambda: now[0])
    table.rows = {
        10: ProcRow(ppid=1, start=500.0, cpu_s=1.0, rss=2**20),
        11: ProcRow(ppid=10, start=501.0, cpu_s=2.0, rss=2**20),
        12: ProcRow(ppid=10, start=400.0, cpu_s=9.0, rss=2**20),  # reused pid: older
    }
    trees.refresh()
    first = trees.usage(ProcessIdentity(10, 500.0))
    assert first.pids == (10, 11) and first.rss_mb == 2.0 and first.cpu_pct == 0.0
    now[0] = 102.0
    table.rows[10] = ProcRow(ppid=1, start=500.0, cpu_s=1.5, rss=2**20)
    table.rows[11] = ProcRow(ppid=10, start=501.0, cpu_s=4.0, rss=2**20)
    trees.refresh()
    assert trees.usage(ProcessIdentity(10, 500.0)).cpu_pct == pytest.approx(125.0)
    # A process new under the same pid has no baseline: 0%, not a jump.
    now[0] = 104.0
    table.rows[11] = ProcRow(ppid=10, start=503.0, cpu_s=50.0, rss=2**20)
    trees.refresh()
    assert trees.usage(ProcessIdentity(10, 500.0)).cpu_pct == pytest.approx(0.0)


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.01)
