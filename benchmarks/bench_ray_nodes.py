"""What showing every Ray node in the system panel costs the TUI, per refresh.

A real run store holds `ray_nodes` as the Ray executor writes it (N nodes with G
GPUs each). For each N, the node loop's work is timed in CPU time (this thread):
reading and parsing the meta key when the supervisor wrote a new one (the
common case: it writes once a second), reading it unchanged, and drawing the
panel's node lines at 80x24 (5 lines: a line each), 200x50 (76x20: in full if
they fit, else a line each) and every node in full (the worst case). The supervisor's
cost of writing the key is timed too (one `set_meta` per second).

Run:
    python benchmarks/bench_ray_nodes.py [--nodes 1 4 16 64] [--gpus 8] [--reps 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from tuitune.store import RunStore
from tuitune.ui.node_feed import NodeFeed
from tuitune.ui.widgets.node_lines import draw_nodes


def nodes_value(n: int, gpus: int, seen: float) -> list[dict]:
    def gpu(i: int) -> dict:
        return {"index": i, "uuid": f"GPU-{i}", "name": "H100 80GB HBM3", "util_pct": 50.0 + i,
                "mem_used_mb": 40_000.0, "mem_total_mb": 81_920.0, "temp_c": 60.0,
                "power_w": 400.0, "power_limit_w": 700.0, "error": None}
    return [{"node_id": f"{k:032x}", "ip": f"10.0.{k // 250}.{k % 250}",
             "node": f"10.0.{k // 250}.{k % 250}#{k:06x}", "alive": True,
             "resources": {"CPU": 64.0, "GPU": float(gpus)}, "gpu_status": "ok",
             "gpus": [gpu(i) for i in range(gpus)],
             "host": {"cpu_pct": 30.0, "ncpu": 64, "ram_used_mb": 100_000.0,
                      "ram_total_mb": 512_000.0},
             "t": seen, "seen": seen, "trials": [k]} for k in range(n)]


def cpu_ms(fn, reps: int) -> float:
    start = time.thread_time()
    for _ in range(reps):
        fn()
    return (time.thread_time() - start) * 1000 / reps


def measure(root: Path, n: int, gpus: int, reps: int) -> dict[str, float]:
    store = RunStore(root / f"n{n}", create=True)
    feed = NodeFeed(root / f"n{n}")
    seen = [time.time()]

    def write() -> None:  # the supervisor's share: a new sample of every node
        seen[0] += 1.0
        store.set_meta(ray_nodes=nodes_value(n, gpus, seen[0]))

    write()
    feed.read()
    out = {"write": cpu_ms(write, reps)}
    out["read_new"] = cpu_ms(lambda: (write(), feed.read()), reps) - out["write"]
    out["read_same"] = cpu_ms(feed.read, reps)
    view = feed.read()
    out["draw_80x24"] = cpu_ms(lambda: draw_nodes(view, 80, 5), reps)
    out["draw_200x50"] = cpu_ms(lambda: draw_nodes(view, 76, 20), reps)
    out["draw_full"] = cpu_ms(lambda: draw_nodes(view, 76, 100_000), reps)  # every block
    out["bytes"] = len(store._conn.execute(  # noqa: SLF001
        "SELECT value FROM meta WHERE key = 'ray_nodes'").fetchone()[0])
    feed.close()
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}; {args.gpus} GPUs a node; CPU ms per call "
          f"(thread time), mean of {args.reps}")
    print("| nodes | meta bytes | supervisor write | TUI read (new) | TUI read (same) "
          "| draw 80x24 | draw 200x50 | draw all in full | TUI per 1 Hz refresh at 200x50 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.nodes:
            r = measure(Path(tmp), n, args.gpus, args.reps)
            total = r["read_new"] + r["draw_200x50"]
            print(f"| {n} | {r['bytes']:,} | {r['write']:.3f} | {r['read_new']:.3f} | "
                  f"{r['read_same']:.3f} | {r['draw_80x24']:.3f} | {r['draw_200x50']:.3f} | "
                  f"{r['draw_full']:.3f} | {total:.3f} ({total / 10:.2f}% of a core) |",
                  flush=True)


if __name__ == "__main__":
    main()
