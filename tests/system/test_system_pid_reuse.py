"""Pids reused between two samples, and the boot time the ``/proc`` reader adds.

A reused pid is made for real in a new pid namespace (``unshare``, where writing
``ns_last_pid`` picks the next pid), through both readers. The ``/proc`` reader's
own rules also run over a ``/proc`` written by hand: a host whose ``btime`` comes
after 2 KiB of per-CPU lines, and a reuse that no full scan corrects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tuitune.system.proctable import ProcfsTable
from tuitune.system.trees import ProcessTrees
from tuitune.system.types import ProcessIdentity

ROOT = Path(__file__).resolve().parents[2]

# Runs as pid 1 of a new pid namespace: a trial root that reaps its child, then
# the child's pid and later the root's pid taken by processes that are not the
# trial's (children of this script). Prints the trial's pids at each sample.
REUSE = """\
import json, os, signal, subprocess, sys, time
import psutil
from tuitune.system.host import identify
from tuitune.system.proctable import ProcfsTable, PsutilTable
from tuitune.system.trees import ProcessTrees

def wait_for(cond):
    deadline = time.monotonic() + 10
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.01)

def start_next_as(pid, argv):  # the next process started gets `pid`
    with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
        f.write(str(pid - 1))
    proc = subprocess.Popen(argv)
    assert proc.pid == pid, (proc.pid, pid)
    return proc

code = ("import subprocess, sys, time; c = subprocess.Popen(['sleep', '600']); "
        "print(c.pid, flush=True); c.wait(); time.sleep(600)")
root = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
child = int(root.stdout.readline())
ident = identify(root.pid)
table = ProcfsTable() if sys.argv[1] == 'procfs' else PsutilTable()
trees = ProcessTrees(table)
out = {}
for sample in ('first', 'second'):  # past the first (full) scan of /proc
    trees.refresh()
    out[sample] = sorted(trees.usage(ident).pids)
os.kill(child, signal.SIGKILL)
wait_for(lambda: not psutil.pid_exists(child))  # reaped by the root
start_next_as(child, ['sleep', '600'])
trees.refresh()
out['child_reused'] = sorted(trees.usage(ident).pids)
root.kill()
root.wait()
start_next_as(root.pid, ['sleep', '600'])  # the same parent as the trial's root
trees.refresh()
out['root_reused'] = sorted(trees.usage(ident).pids)
out['root'], out['child'] = root.pid, child
print(json.dumps(out), flush=True)
"""


def _namespaces_work() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Urpf", "--mount-proc", "sh", "-c",
         "echo 100 > /proc/sys/kernel/ns_last_pid"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.parametrize("reader", ["procfs", "psutil"])
def test_pid_reused_between_samples_is_not_the_trials(reader) -> None:
    if not _namespaces_work():
        pytest.skip("needs unshare into a new user and pid namespace")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run(
        ["unshare", "-Urpf", "--mount-proc", sys.executable, "-c", REUSE, reader],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    trial = sorted([out["root"], out["child"]])
    assert out["first"] == out["second"] == trial
    assert out["child_reused"] == [out["root"]]  # the new process under that pid is not
    assert out["root_reused"] == []  # the trial's identity matches no process now


class FakeProc:
    """A ``/proc`` written by hand: ``stat`` of the host and of each process."""

    def __init__(self, path: Path, btime: int, cpus: int = 64) -> None:
        self.path = path
        self.set_btime(btime, cpus)

    def set_btime(self, btime: int, cpus: int = 64) -> None:
        lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
        lines += [f"cpu{i} 123456 789 234567 89012345 6789 0 1234 0 0 0" for i in range(cpus)]
        lines += ["intr 12345678 " + " ".join(["0"] * 40), "ctxt 987654321",
                  f"btime {btime}", "processes 123456", "procs_running 2"]
        (self.path / "stat").write_text("\n".join(lines) + "\n")

    def put(self, pid: int, ppid: int, start_ticks: int, cpu_ticks: int = 0,
            state: str = "S") -> None:
        # man 5 proc: pid (comm) state ppid ... utime(14) stime(15) ... starttime(22)
        fields = [state, str(ppid)] + ["0"] * 9 + [str(cpu_ticks), "0"] + ["0"] * 6
        fields += [str(start_ticks), "0", "25"] + ["0"] * 20
        (self.path / str(pid)).mkdir(exist_ok=True)
        (self.path / str(pid) / "stat").write_text(f"{pid} (x y) " + " ".join(fields))


def test_btime_past_the_first_2kib_is_read_and_only_on_full_scans(tmp_path) -> None:
    proc = FakeProc(tmp_path, btime=1_000_000)
    assert (tmp_path / "stat").read_bytes().index(b"btime") > 2048
    proc.put(1, 0, 0)
    proc.put(100, 1, 500)
    ticks = os.sysconf("SC_CLK_TCK")
    table = ProcfsTable(str(tmp_path), full_every=3)
    table.scan()
    assert table.row(100).start == pytest.approx(1_000_000 + 500 / ticks)
    assert abs(1_000_000 - psutil.boot_time()) > 1000  # not the host's boot time
    proc.set_btime(1_000_050)  # the clock was set: seen at the next full scan
    table.scan()
    assert table.row(100).start == pytest.approx(1_000_000 + 500 / ticks)
    table.scan()
    table.scan()
    assert table.row(100).start == pytest.approx(1_000_050 + 500 / ticks)


def test_procfs_child_pid_reused_outside_the_tree_leaves_it_at_once(tmp_path) -> None:
    proc = FakeProc(tmp_path, btime=1_000_000)
    proc.put(1, 0, 0)
    proc.put(100, 1, 500)
    proc.put(200, 100, 600)
    proc.put(300, 1, 700)  # a daemon, not the trial's
    table = ProcfsTable(str(tmp_path))
    trees = ProcessTrees(table)
    trees.refresh()
    ident = ProcessIdentity(100, table.row(100).start)
    assert trees.usage(ident).members == (100, 200)
    # 200 exits and the daemon's next job gets its pid before the next scan.
    proc.put(200, 300, 900, cpu_ticks=5000)
    for _ in range(3):  # no full scan among these
        trees.refresh()
        assert trees.usage(ident).members == (100,)


def test_procfs_orphan_of_a_zombie_stays_under_a_subreaper_root(tmp_path) -> None:
    proc = FakeProc(tmp_path, btime=1_000_000)
    proc.put(1, 0, 0)
    proc.put(100, 1, 500)
    proc.put(200, 100, 600)
    proc.put(250, 200, 700)
    table = ProcfsTable(str(tmp_path))
    trees = ProcessTrees(table)
    trees.refresh()
    ident = ProcessIdentity(100, table.row(100).start)
    # 200 exits, not reaped yet: its child goes to the root (a child subreaper),
    # while the scan still files it under 200.
    proc.put(200, 100, 600, state="Z")
    proc.put(250, 100, 700)
    for _ in range(2):
        trees.refresh()
        usage = trees.usage(ident)
        assert sorted(usage.members) == [100, 200, 250] and sorted(usage.pids) == [100, 250]
