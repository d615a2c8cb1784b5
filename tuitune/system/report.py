"""Plain-text and JSON views of a ``SystemSnapshot``, and ``tuitune gpu --once``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from tuitune.system.types import OK, GpuSample, GpuSource, SystemSnapshot

# Host CPU % is a delta between two readings; --once waits this long for one.
_ONCE_SETTLE_S = 0.2


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _gb(mb: float | None) -> str:
    return "n/a" if mb is None else f"{mb / 1024:.1f}"


def _size(mb: float | None) -> str:
    if mb is None:
        return "n/a"
    return f"{mb:.0f} MB" if mb < 1024 else f"{mb / 1024:.1f} GB"


def _gpu_line(gpu: GpuSample) -> str:
    head = f"GPU {gpu.index}  {gpu.name:<24.24}"
    if gpu.error is not None:
        return f"{head}  (({gpu.error}))"
    mem_pct = gpu.mem_pct
    power = f"{_num(gpu.power_w, '.0f')}/{_num(gpu.power_limit_w, '.0f')} W"
    return (
        f"{head}  util {_num(gpu.util_pct, '3.0f', '%')}"
        f"  mem {_gb(gpu.mem_used_mb)}/{_gb(gpu.mem_total_mb)} GB"
        f" ({_num(mem_pct, '.0f', '%')})"
        f"  {_num(gpu.temp_c, '.0f', 'C')}  {power}  fan {_num(gpu.fan_pct, '.0f', '%')}"
    )


def format_text(snapshot: SystemSnapshot) -> str:
    """Render a snapshot as a few plain lines (ASCII only: LANG=C over SSH is common)."""
    lines: list[str] = []
    if not snapshot.gpus:
        status = snapshot.gpu_status
        lines.append("no NVIDIA GPU" if status == OK else status)
    for gpu in snapshot.gpus:
        lines.append(_gpu_line(gpu))
        for proc in gpu.processes:
            trial_id = snapshot.gpu_owners.get(proc.pid)
            who = f"trial {trial_id}" if trial_id is not None else "not a trial"
            lines.append(f"    pid {proc.pid:<8d} {_size(proc.used_memory_mb):>9}  {who}")
    host = snapshot.host
    lines.append(
        f"host   cpu {host.cpu_pct:.0f}% of {host.ncpu} cores"
        f"  ram {_gb(host.ram_used_mb)}/{_gb(host.ram_total_mb)} GB ({host.ram_pct:.0f}%)"
    )
    for trial in sorted(snapshot.trials.values(), key=lambda u: u.trial_id):
        gpus = ",".join(map(str, trial.gpu_ids)) or "-"
        n = len(trial.pids)
        state = f"{n} proc{'s' if n != 1 else ''}" if n else "not running"
        lines.append(
            f"trial {trial.trial_id}  {state}  cpu {trial.cpu_pct:.0f}%"
            f"  rss {_size(trial.rss_mb)}  gpus {gpus}  gpu mem {_size(trial.gpu_mem_mb)}"
        )
    return "\n".join(lines)


def to_json(snapshot: SystemSnapshot) -> dict[str, Any]:
    """A JSON-ready dict; unavailable values are ``null``, never 0."""
    host = dataclasses.asdict(snapshot.host)
    host["ram_pct"] = snapshot.host.ram_pct
    return {
        "t": snapshot.t,
        "gpu_status": snapshot.gpu_status,
        "gpus": [dataclasses.asdict(gpu) for gpu in snapshot.gpus],
        "host": host,
        "trials": {
            str(tid): dataclasses.asdict(usage) for tid, usage in sorted(snapshot.trials.items())
        },
        "orphans": [{"gpu": index, **dataclasses.asdict(proc)} for index, proc in snapshot.orphans],
        "gpu_owners": {str(pid): tid for pid, tid in sorted(snapshot.gpu_owners.items())},
    }


def build_parser() -> argparse.ArgumentParser:
    """The ``tuitune gpu`` argument parser (the TUI reuses it for full-screen mode)."""
    parser = argparse.ArgumentParser(
        prog="tuitune gpu",
        description="Show NVIDIA GPUs, their processes, and host CPU/RAM.",
    )
    parser.add_argument("--once", action="store_true", help="print one readout and exit")
    parser.add_argument("--json", action="store_true", help="with --once: print JSON")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    gpu_source: GpuSource | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run ``tuitune gpu``. Exits 0 on a machine without a GPU too.

    Args:
        argv: Arguments after ``gpu``; None reads ``sys.argv[1:]``.
        gpu_source: Injected for tests; defaults to NVML.
        clock: Wall clock for the snapshot time.
    """
    args = build_parser().parse_args(argv)
    if not args.once:
        print(
            "tuitune gpu: the full-screen monitor is opened by the TUI; "
            "use --once for a one-shot readout.",
            file=sys.stderr,
        )
        return 2
    from tuitune.system.sampler import SystemSampler

    if gpu_source is None:
        from tuitune.system.gpu import NvmlGpuSource

        gpu_source = NvmlGpuSource()
    sampler = SystemSampler(gpu_source, clock=clock)
    try:
        time.sleep(_ONCE_SETTLE_S)
        snapshot = sampler.sample({})
    finally:
        sampler.close()
    if args.json:
        print(json.dumps(to_json(snapshot), indent=2))
    else:
        print(format_text(snapshot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
