"""Real process trees for the sampling tests (fake NVML only, real psutil)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

# Each level starts the next; the deepest prints its pid and every level sleeps.
# stdout is inherited down the chain, so the test reads the leaf's pid.
TREE_SCRIPT = """\
import os, subprocess, sys, time
depth = int(sys.argv[1])
if depth > 0:
    subprocess.Popen([sys.executable, __file__, str(depth - 1)])
else:
    print(os.getpid(), flush=True)
time.sleep(600)
"""


@dataclass
class Tree:
    """A started process chain: root -> ... -> leaf."""

    root: subprocess.Popen[str]
    leaf_pid: int

    @property
    def pids(self) -> list[int]:
        root = psutil.Process(self.root.pid)
        return [self.root.pid] + [p.pid for p in root.children(recursive=True)]


def kill_tree(popen: subprocess.Popen[str]) -> None:
    """Kill the process group the tree runs in, then reap the root."""
    try:
        os.killpg(popen.pid, signal.SIGKILL)  # start_new_session: pgid == root pid
    except ProcessLookupError:
        pass
    popen.wait(timeout=10)
    if popen.stdout is not None:
        popen.stdout.close()


@pytest.fixture
def spawn_tree(tmp_path: Path) -> Iterator[Callable[[int], Tree]]:
    """Factory: ``spawn_tree(depth)`` starts root + ``depth`` levels of descendants."""
    script = tmp_path / "tree.py"
    script.write_text(TREE_SCRIPT)
    started: list[subprocess.Popen[str]] = []

    def spawn(depth: int = 2) -> Tree:
        popen = subprocess.Popen(
            [sys.executable, str(script), str(depth)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(popen)
        assert popen.stdout is not None
        line = popen.stdout.readline()
        assert line.strip().isdigit(), f"tree did not start: {line!r}"
        return Tree(popen, int(line))

    try:
        yield spawn
    finally:
        for popen in started:
            kill_tree(popen)


@dataclass
class Script:
    """A started ``python -c`` process and the pids it printed on its first line."""

    root: subprocess.Popen[str]
    printed: list[int]
    started_at: dict[int, float]


@pytest.fixture
def spawn_py() -> Iterator[Callable[[str], Script]]:
    """Factory: ``spawn_py(code)`` runs ``code`` in its own session and reads the
    pids it prints; every printed pid is killed at the end too (a ``setsid``
    child leaves the root's process group)."""
    started: list[Script] = []

    def spawn(code: str) -> Script:
        popen = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        assert popen.stdout is not None
        line = popen.stdout.readline()
        pids = [int(word) for word in line.split()]
        script = Script(popen, pids, {pid: psutil.Process(pid).create_time() for pid in pids})
        started.append(script)
        assert script.printed, f"script did not start: {line!r}"
        return script

    try:
        yield spawn
    finally:
        for script in started:
            for pid, created in script.started_at.items():
                try:  # only if the pid still names the process we started
                    if psutil.Process(pid).create_time() == created:
                        os.kill(pid, signal.SIGKILL)
                except (psutil.NoSuchProcess, ProcessLookupError):
                    pass
            kill_tree(script.root)
