"""Cost of one ``SystemSampler.sample()`` with many live trial process trees.

Starts N trial trees (a small python process with one sleeping child each),
puts half of the children on 4 fake GPUs (plus a few strangers as orphans),
then times full samples: GPU readout, host CPU/RAM, the process-table scan,
and every trial tree's CPU/RSS. NVML itself is faked, so real-GPU sampling
adds the NVML calls (about 10 per GPU per sample) on top of these figures.

Run:
    python benchmarks/bench_system_sample.py [--trees 64] [--samples 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

import psutil

from tuitune.system.fake import FakeGpuSource
from tuitune.system.host import identify
from tuitune.system.sampler import SystemSampler

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=64)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()

    roots, children = start_trees(args.trees)
    try:
        gpus = FakeGpuSource(4, name="Fake 80GB", mem_total_mb=81920.0)
        on_gpu = children[: args.trees // 2]
        for index in range(4):
            procs = {pid: 2048.0 for pid in on_gpu[index::4]}
            procs[4_000_000 + index] = 512.0  # a stranger: shows up as an orphan
            gpus.set_processes(index, procs)
        trial_roots = {i: identify(root.pid) for i, root in enumerate(roots)}
        sampler = SystemSampler(gpus)

        w0, c0 = time.perf_counter(), time.process_time()
        snap = sampler.sample(trial_roots)  # first sample: builds the process cache
        first_wall, first_cpu = time.perf_counter() - w0, time.process_time() - c0
        assert len(snap.gpu_owners) == len(on_gpu), "GPU pids not mapped to their trials"
        assert len(snap.orphans) == 4
        assert all(len(u.pids) == 2 for u in snap.trials.values())

        walls, cpus = measure(sampler, trial_roots, args.samples)
        empty_walls, empty_cpus = measure(SystemSampler(gpus), {}, args.samples)
        nprocs = len(psutil.pids())
    finally:
        kill_trees(roots)

    ms = 1000.0
    print(
        f"`python benchmarks/bench_system_sample.py --trees {args.trees} --samples {args.samples}`"
    )
    print()
    print(
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, psutil {psutil.__version__}, "
        f"{nprocs} processes on the machine during the run"
    )
    print()
    print("| sample | trial trees | wall ms (mean / max) | CPU ms (mean) | CPU at 1 Hz |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("first (cold cache)", args.trees, [first_wall], [first_cpu]),
        (f"steady, mean of {args.samples}", args.trees, walls, cpus),
        (f"no trials, mean of {args.samples}", 0, empty_walls, empty_cpus),
    ]
    for label, trees, w, c in rows:
        cpu = statistics.fmean(c)
        print(
            f"| {label} | {trees} | {statistics.fmean(w) * ms:.1f} / {max(w) * ms:.1f} "
            f"| {cpu * ms:.1f} | {cpu * 100:.1f}% of one core |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
