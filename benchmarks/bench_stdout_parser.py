"""Stdout metric parsing speed: how fast trial output becomes metric points.

Part 1 times one line of n word characters ("y" * n, no newline) through the
parser before the fix (its key=value regex, which rescanned the word from every
position: quadratic) and through today's parser. Part 2 writes trial logs of
different kinds to a file and reads them with the supervisor's LogTailer in the
chunks the supervisor uses (feed.CHUNK_BYTES), reporting MB of output parsed per
second, for today's reader and, back to back on the same data, for the reader and
parser of commit `--before` (loaded from git), so a loaded machine's slowness shows
in both and the ratio stays meaningful.

    python benchmarks/bench_stdout_parser.py [--mb 20] [--old-max 32000] [--before d4eb390]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

from tuitune.engine.feed import CHUNK_BYTES
from tuitune.engine.logs import LogTailer
from tuitune.engine.stdout_metrics import _PAIR, StdoutMetricParser

ROOT = Path(__file__).resolve().parent.parent

# The pair pattern of tuitune/engine/stdout_metrics.py at df5b8e7, for comparison.
_OLD_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
_OLD_PAIR = re.compile(rf"([A-Za-z_][\w./]*)\s*(?:=|:)\s*({_OLD_NUMBER})(?=[\s,;|)]|$)",
                       re.IGNORECASE)


def old_vs_new(sizes: list[int]) -> list[tuple[int, float, float]]:
    rows = []
    for n in sizes:
        line = "y" * n
        t = time.perf_counter()
        _OLD_PAIR.findall(line)
        old = time.perf_counter() - t
        t = time.perf_counter()
        StdoutMetricParser().feed(line)
        new = time.perf_counter() - t
        rows.append((n, old, new))
    return rows


def _keras(mb: int) -> bytes:
    """Keras progress bars: each epoch one line of \\r redraws, then the epoch's metrics."""
    out, epoch = [], 0
    size = 0
    while size < mb << 20:
        epoch += 1
        head = f"Epoch {epoch}/1000\n"
        bar = "".join(f"\r{i}/1875 [{'=' * (i * 30 // 1875):<30}] - ETA: 3s - loss: 0.4{i % 10}"
                      for i in range(1, 1876, 5))
        tail = (f"\r1875/1875 [{'=' * 30}] - 5s 3ms/step - loss: 0.2 - accuracy: 0.94 "
                f"- val_loss: 0.1 - val_accuracy: 0.97\n")
        chunk = head + bar + tail
        out.append(chunk)
        size += len(chunk)
    return "".join(out).encode()


def _mixed(mb: int) -> bytes:
    """Prose, warnings and stack-trace-like noise, with a metric line in every ten."""
    noise = ["2025-01-01 12:00:00.000 I tensorflow/core: Allocating 1024 MiB on device 0",
             "WARNING: the learning rate schedule is not set; using the constant default",
             "    at module.train_loop (train.py line 88) loading shard 17 of 128 ...",
             "processing batch of 256 images with augmentation flip crop jitter"]
    lines, size, step = [], 0, 0
    while size < mb << 20:
        step += 1
        for i in range(9):
            lines.append(noise[(step + i) % 4])
        lines.append(f"step={step} loss={1 / step:.6f} acc={step % 100 / 100:.2f}")
        size += sum(len(x) + 1 for x in lines[-10:])
    return ("\n".join(lines) + "\n").encode()


def _dense(mb: int) -> bytes:
    """Nothing but metric lines of five pairs each (the worst case for points/s)."""
    lines, size, step = [], 0, 0
    while size < mb << 20:
        step += 1
        line = (f"step={step} loss={1 / step:.6f} val_loss={2 / step:.6f} "
                f"accuracy={step % 100 / 100:.2f} grad_norm={step % 7 / 3:.4f}")
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def _one_line(mb: int) -> bytes:
    """A script that prints megabytes without a newline (the stalled supervisor)."""
    return b"y" * (mb << 20)


def tailer_at(commit: str) -> Any:
    """The LogTailer class (with its parser) as it was at `commit`."""
    modules = {}
    for name in ("stdout_metrics", "logs"):
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:tuitune/engine/{name}.py"],
            check=True, capture_output=True, text=True).stdout
        module = types.ModuleType(f"before_{name}")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        source = source.replace("from tuitune.engine.stdout_metrics import",
                                "from before_stdout_metrics import")
        exec(compile(source, f"{commit}:{name}.py", "exec"), module.__dict__)
        modules[name] = module
    return modules["logs"].LogTailer


def throughput(tailer_class: Any, data: bytes) -> tuple[float, float, list[Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.txt"
        log.write_bytes(data)
        tailer = tailer_class(log)
        points = []
        t = time.perf_counter()
        while True:
            parsed = tailer.read(0.0, hold=False, final=True, max_bytes=CHUNK_BYTES)
            points += parsed.points
            if parsed.at_end:
                break
        wall = time.perf_counter() - t
    return len(data) / wall / 1e6, wall, points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=20, help="MB of output per kind")
    ap.add_argument("--old-max", type=int, default=32000, help="largest n for the old parser")
    ap.add_argument("--before", default="d4eb390", help="commit whose reader to compare")
    args = ap.parse_args()
    sizes = [n for n in (4000, 8000, 16000, 32000) if n <= args.old_max]
    print(f"command: python benchmarks/bench_stdout_parser.py --mb {args.mb} "
          f"--old-max {args.old_max} --before {args.before}  (cores: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f})\n")
    before = tailer_at(args.before)
    print("| n (one line of \"y\" * n) | old parser s | new parser s |")
    print("|---:|---:|---:|")
    for n, old, new in old_vs_new(sizes):
        print(f"| {n:,} | {old:.2f} | {new:.5f} |")
    print(f"\n| output kind | MB | wall s | MB/s parsed | MB/s at {args.before} | ratio "
          "| points |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, make in (("one line, no newline", _one_line), ("Keras progress bars", _keras),
                       ("log noise, 1 metric line in 10", _mixed),
                       ("dense key=value lines (5 metrics each)", _dense)):
        data = make(args.mb)
        old_rate, _, old_points = throughput(before, data)
        rate, wall, points = throughput(LogTailer, data)
        if points != old_points:
            sys.exit(f"bench: {kind}: the readers disagree on the points")
        print(f"| {kind} | {len(data) / 1e6:.1f} | {wall:.2f} | {rate:.1f} | {old_rate:.1f} "
              f"| {rate / old_rate:.1f} | {len(points):,} |")
    # What no pure-Python parser of dense pairs can beat here: the regex engine alone
    # finding the pairs, in one call over the whole text, with nothing done per pair.
    text = _dense(args.mb).decode()
    t = time.perf_counter()
    pairs = _PAIR.findall(text)
    wall = time.perf_counter() - t
    print(f"\nfloor: the pair pattern alone over the dense text, one findall: "
          f"{len(text) / wall / 1e6:.1f} MB/s ({len(pairs):,} pairs in {wall:.2f} s)")


if __name__ == "__main__":
    main()
