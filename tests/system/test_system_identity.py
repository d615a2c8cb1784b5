"""One (pid, start time) rule for every reader: the executor's signal guard and the
monitors' tree and GPU readers agree on which process a recorded identity names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tuitune.executors.local import process_matches
from tuitune.system.host import identify
from tuitune.system.proctable import ProcfsTable, procfs_readable
from tuitune.system.trees import ProcessTrees
from tuitune.system.types import ProcessIdentity

#: One Linux clock tick: the smallest gap between two different process starts.
TICK = 0.01


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_start_one_tick_off_is_another_process_for_every_reader(sleeper):
    ident = identify(sleeper.pid)
    assert ident is not None
    other = ProcessIdentity(sleeper.pid, ident.create_time + TICK)

    # The executor guards its signals with the same rule...
    assert process_matches(sleeper.pid, ident.create_time)
    assert not process_matches(sleeper.pid, other.create_time)

    # ...as the tree reader (through psutil and, on Linux, through /proc).
    trees = ProcessTrees()
    trees.refresh()
    assert trees.usage(ident).pids == (sleeper.pid,)
    assert trees.usage(other).pids == ()


@pytest.mark.skipif(not procfs_readable(), reason="needs a Linux /proc")
def test_the_proc_reader_start_matches_psutils(sleeper):
    table = ProcfsTable()
    table.scan()
    row = table.row(sleeper.pid)
    ident = identify(sleeper.pid)
    assert row is not None and ident is not None
    trees = ProcessTrees(table=table)
    trees.refresh()
    assert trees.usage(ident).pids == (sleeper.pid,)
