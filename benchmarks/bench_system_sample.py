"""Cost of one ``SystemSampler.sample()`` with many live trial process trees.

Starts N trial trees (a small python process with one sleeping child each),
puts half of the children on 4 fake GPUs (plus a few strangers as orphans),
then times full samples: GPU readout, host CPU/RAM, the process-table scan,
and every trial tree's CPU/RSS. Each process-table reader (``/proc`` and the
portable psutil one) is timed on the same trees in the same run. NVML itself is
faked, so real-GPU sampling adds the NVML calls (about 10 per GPU per sample).

Last, the TUI's system feed samples at 1 Hz in its own thread, as the TUI's
system loop does, and that thread's CPU time is measured.

Run:
    python benchmarks/bench_system_sample.py [--trees 64] [--samples 30] [--feed-seconds 20]
        [--strangers 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time

import psutil

from tuitune.system.fake import FakeGpuSource
from tuitune.system.gpu import NvmlGpuSource
from tuitune.system.host import identify
from tuitune.system.proctable import ProcfsTable, PsutilTable, procfs_readable
from tuitune.system.sampler import SystemSampler
from tuitune.system.trees import ProcessTrees
from tuitune.ui.system_feed import SystemFeed

READERS = {"procfs": ProcfsTable, "psutil": PsutilTable}

TRIAL = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen(['sleep', '600'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def start_trees(n: int) -> tuple[list[subprocess.Popen[str]], list[int]]:
    """Start ``n`` trees; return the roots and their children's pids."""
    roots = [
        subprocess.Popen(
            [sys.executable, "-c", TRIAL], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        for _ in range(n)
    ]
    children = [int(root.stdout.readline()) for root in roots]  # type: ignore[union-attr]
    return roots, children


def kill_trees(roots: list[subprocess.Popen[str]]) -> None:
    for root in roots:
        try:
            os.killpg(root.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for root in roots:
        root.wait(timeout=10)
        if root.stdout is not None:
            root.stdout.close()


def measure(sampler: SystemSampler, trial_roots: dict, samples: int) -> tuple[list, list]:
    walls, cpus = [], []
    for _ in range(samples):
        w0, c0 = time.perf_counter(), time.process_time()
        sampler.sample(trial_roots)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return walls, cpus


def check(snap, on_gpu: list[int]) -> None:
    assert len(snap.gpu_owners) == len(on_gpu), "GPU pids not mapped to their trials"
    assert len(snap.orphans) == 4
    assert all(len(u.pids) == 2 for u in snap.trials.values()), "a tree lost a process"


def feed_thread_cpu(gpus: FakeGpuSource, trial_roots: dict, seconds: float) -> tuple[float, int]:
    """CPU seconds of a thread that samples through SystemFeed at 1 Hz for ``seconds``."""
    feed = SystemFeed(gpus)
    out: list[tuple[float, int]] = []

    def loop() -> None:
        c0, n, end = time.thread_time(), 0, time.monotonic() + seconds
        while time.monotonic() < end:
            feed.sample(trial_roots)
            n += 1
            time.sleep(1.0)
        out.append((time.thread_time() - c0, n))

    thread = threading.Thread(target=loop, name="system-poller")
    thread.start()
    thread.join()
    return out[0]


def row(label: str, trees: int, walls: list, cpus: list) -> str:
    cpu = statistics.fmean(cpus) * 1000.0
    return (f"| {label} | {trees} | {statistics.fmean(walls) * 1000.0:.1f} / "
            f"{max(walls) * 1000.0:.1f} | {cpu:.1f} | {cpu / 10.0:.2f}% of one core |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=64)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--feed-seconds", type=float, default=20.0,
                        help="how long the 1 Hz feed thread runs (0: skip)")
    parser.add_argument("--strangers", type=int, default=0,
                        help="idle processes outside any trial (a GPU server's daemons)")
    parser.add_argument("--nvml", action="store_true",
                        help="also time samples through the real NVML (needs a GPU)")
    args = parser.parse_args()
    readers = [name for name in READERS if name != "procfs" or procfs_readable()]

    load = os.getloadavg()
    strangers = [subprocess.Popen(["sleep", "600"]) for _ in range(args.strangers)]
    roots, children = start_trees(args.trees)
    rows = []
    try:
        gpus = FakeGpuSource(4, name="Fake 80GB", mem_total_mb=81920.0)
        on_gpu = children[: args.trees // 2]
        for index in range(4):
            procs = {pid: 2048.0 for pid in on_gpu[index::4]}
            procs[4_000_000 + index] = 512.0  # a stranger: shows up as an orphan
            gpus.set_processes(index, procs)
        trial_roots = {i: identify(root.pid) for i, root in enumerate(roots)}
        for name in readers:
            sampler = SystemSampler(gpus, trees=ProcessTrees(READERS[name]()))
            w0, c0 = time.perf_counter(), time.process_time()
            check(sampler.sample(trial_roots), on_gpu)  # first sample: no CPU baselines
            first = ([time.perf_counter() - w0], [time.process_time() - c0])
            walls, cpus = measure(sampler, trial_roots, args.samples)
            check(sampler.latest, on_gpu)
            rows.append(row(f"{name}: first", args.trees, *first))
            rows.append(row(f"{name}: steady, mean of {args.samples}", args.trees, walls, cpus))
        if args.nvml:  # the same trees, the machine's real GPUs through NVML
            real = NvmlGpuSource()
            sampler = SystemSampler(real)
            readout = real.read()
            label = f"{len(readout.gpus)} GPUs" if readout.ok else readout.status
            sampler.sample(trial_roots)
            walls, cpus = measure(sampler, trial_roots, args.samples)
            rows.append(row(f"real NVML ({label}): steady, mean of {args.samples}",
                            args.trees, walls, cpus))
            sampler.close()
        empty = measure(SystemSampler(gpus), {}, args.samples)
        rows.append(row(f"no trials, mean of {args.samples}", 0, *empty))
        nprocs = len(psutil.pids())
        feed = feed_thread_cpu(gpus, trial_roots, args.feed_seconds) if args.feed_seconds else None
    finally:
        kill_trees(roots)
        for proc in strangers:
            proc.kill()
            proc.wait()

    print(f"`python benchmarks/bench_system_sample.py --trees {args.trees} "
          f"--samples {args.samples} --feed-seconds {args.feed_seconds:g} "
          f"--strangers {args.strangers}{' --nvml' if args.nvml else ''}`")
    print()
    print(f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, psutil {psutil.__version__}, "
          f"{nprocs} processes on the machine during the run, load average "
          f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at the start")
    print()
    print("| sample | trial trees | wall ms (mean / max) | CPU ms (mean) | CPU at 1 Hz |")
    print("|---|---:|---:|---:|---:|")
    for line in rows:
        print(line)
    if feed is not None:
        cpu_s, n = feed
        print()
        print(f"TUI system feed thread at 1 Hz, {args.trees} trees, {n} samples: "
              f"{cpu_s * 1000.0 / n:.1f} ms CPU a sample, "
              f"{100.0 * cpu_s / n:.2f}% of one core.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
