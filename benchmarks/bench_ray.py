"""Benchmark: reports through Ray against the local executor.

Starts a real two-node Ray cluster on this machine (tests/ray_cluster/raycluster.py: a
private network namespace with only loopback; needs root and `pip install
"tuitune[ray]"`), then runs real headless supervisors with real trial processes:

1. report-to-store latency: one trial reports a point every 100 ms for 15 s; a
   reader polls the store every 5 ms and records (time seen - time reported);
2. metric throughput: one trial reports 200,000 points (20,000 report() calls of
   10 metrics) as fast as it can; points per second from its first report until
   the last point is in the store;
3. the supervisor's CPU with 64 trials running at once, each reporting one point
   a second (Ray: spread over both nodes).

    python benchmarks/bench_ray.py [--trials 64] [--out benchmarks/results/ray.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ray_cluster"))

from raycluster import LocalRayCluster  # noqa: E402

from tuitune.store import RunStore  # noqa: E402

TRIAL = """
import sys, time
import tuitune.in_trial.trial as tt
mode = tt.params()["mode"]
if mode == "latency":
    for step in range(1, 151):
        tt.report(step, loss=1.0 / step)
        time.sleep(0.1)
elif mode == "throughput":
    names = [f"m{i}" for i in range(10)]
    for step in range(1, 20001):
        tt.report(step, **{n: step * 0.5 for n in names})
elif mode == "idle":
    for step in range(1, 100000):
        tt.report(step, loss=1.0 / step)
        if tt.should_stop():
            break
        time.sleep(1.0)
tt.flush()
"""

SPEC = """
name = "bench-{mode}"
command = ["{{python}}", "trial.py"]
kill_grace = 2

[space.mode]
type = "fixed"
value = "{mode}"

[space.seed]
type = "int"
low = 0
high = 1000000

[objective]
metric = "loss"
mode = "min"

[budget]
max_trials = {trials}
max_concurrent = {trials}

[search]
strategy = "random"

{executor}
"""


def write_spec(folder: Path, mode: str, trials: int, executor: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.py").write_text(textwrap.dedent(TRIAL))
    spec = folder / f"{mode}.toml"
    spec.write_text(SPEC.format(mode=mode, trials=trials, executor=executor))
    return spec


class Run:
    def __init__(self, spec: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TUITUNE_HOME": str(home)}
        self.log = open(home / "supervisor.out", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec),
                                      "--headless"], stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        runs = home / "runs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [p for p in runs.iterdir() if (p / "store.db").exists()] if (
                runs.exists()) else []
            if found:
                self.run_dir = found[0]
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("no run folder")
        self.env = env
        while time.monotonic() < deadline:  # the store is ready once the supervisor is
            try:
                store = RunStore(self.run_dir)
                try:
                    if store.meta().get("supervisor_pid"):
                        return
                finally:
                    store.close()
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("the supervisor did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            store = RunStore(self.run_dir)
            live = [str(t.id) for t in store.trials(["running", "paused", "queued"])]
            store.close()
            if live:
                subprocess.run([sys.executable, "-m", "tuitune", "kill", str(self.run_dir),
                                *live], env=self.env, capture_output=True, timeout=120)
                deadline = time.monotonic() + 120  # let the supervisor hand actors back
                while time.monotonic() < deadline:
                    store = RunStore(self.run_dir)
                    left = store.trials(["running", "paused"])
                    store.close()
                    if not left:
                        break
                    time.sleep(0.5)
            subprocess.run([sys.executable, "-m", "tuitune", "stop", str(self.run_dir)],
                           env=self.env, capture_output=True, timeout=120)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def watch_points(run_dir: Path, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    """(time the point was reported, time it was seen in the store), polling at 200 Hz."""
    store = None
    last = 0
    while not stop.is_set():
        try:
            store = store or RunStore(run_dir)
            pts = store.metrics(after_id=last)
        except Exception:
            time.sleep(0.05)
            continue
        now = time.time()
        for p in pts:
            out.append((p.t, now))
            last = p.id
        time.sleep(0.005)
    if store is not None:
        store.close()


def bench_latency(base: Path, executor: str) -> dict[str, float]:
    run = Run(write_spec(base / "spec", "latency", 1, executor), base / "home")
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=watch_points, args=(run.run_dir, stop, seen))
    watcher.start()
    try:
        run.proc.wait(timeout=180)
    finally:
        stop.set()
        watcher.join()
        run.stop()
    lat = sorted((b - a) * 1000 for a, b in seen)
    return {"n": len(lat), "p50": statistics.median(lat), "p95": lat[int(0.95 * len(lat)) - 1],
            "max": lat[-1]}


def bench_throughput(base: Path, executor: str) -> dict[str, float]:
    run = Run(write_spec(base / "spec", "throughput", 1, executor), base / "home")
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=watch_points, args=(run.run_dir, stop, seen))
    watcher.start()
    try:
        run.proc.wait(timeout=600)
        deadline = time.monotonic() + 120
        while len(seen) < 200_000 and time.monotonic() < deadline:
            time.sleep(0.05)  # the reader may lag behind the last writes
    finally:
        stop.set()
        watcher.join()
        run.stop()
    first_reported = min(a for a, _ in seen)
    last_seen = max(b for _, b in seen)  # an upper bound: the reader polls at 200 Hz
    return {"points": len(seen), "seconds": last_seen - first_reported,
            "rate": len(seen) / (last_seen - first_reported)}


def bench_cpu(base: Path, executor: str, trials: int, window: float = 30.0) -> dict[str, float]:
    run = Run(write_spec(base / "spec", "idle", trials, executor), base / "home")
    try:
        store = RunStore(run.run_dir)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            running = [t for t in store.trials(["running"]) if t.pid]
            recent = store.metrics(after_id=store.last_metric_id() - 4 * trials)
            reporting = {p.trial_id for p in recent}
            if len(running) == trials and len(reporting) >= trials * 0.9:
                break
            time.sleep(1.0)
        else:
            raise RuntimeError(f"only {len(running)} of {trials} trials started")
        time.sleep(5.0)  # let start-up settle
        sup = psutil.Process(store.meta()["supervisor_pid"])  # not the headless follower
        psutil.cpu_percent()
        before, m0, t0 = sup.cpu_times(), store.count_metrics(), time.monotonic()
        time.sleep(window)
        after, m1, t1 = sup.cpu_times(), store.count_metrics(), time.monotonic()
        host = psutil.cpu_percent()
        store.close()
        busy = (after.user + after.system) - (before.user + before.system)
        return {"trials": trials, "cpu_pct": 100 * busy / (t1 - t0),
                "points_per_s": (m1 - m0) / (t1 - t0),
                "rss_mb": sup.memory_info().rss / 2**20, "host_pct": host}
    finally:
        run.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--executors", default="local,ray", help="which to measure")
    ap.add_argument("--parts", default="latency,throughput,cpu", help="what to measure")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tt-bench-ray-"))
    results: dict[str, dict[str, dict[str, float]]] = {}
    with LocalRayCluster(num_cpus=2) as cluster:
        ray_exec = f'[executor]\nkind = "ray"\naddress = "{cluster.address}"\nnum_cpus = 0.01'
        pinned = ray_exec + "\nresources = {node2 = 0.01}"
        wanted = args.executors.split(",")
        kinds = {"local": "", "ray (node2)": pinned}
        for name, executor in kinds.items():
            if name.split()[0] not in wanted or "latency" not in args.parts:
                continue
            print(f"latency: {name}", flush=True)
            results.setdefault(name, {})["latency"] = bench_latency(
                tmp / name / "lat", executor)
            print(results[name]["latency"], flush=True)
            print(f"throughput: {name}", flush=True)
            results[name]["throughput"] = bench_throughput(tmp / name / "thr", executor)
            print(results[name]["throughput"], flush=True)
        cpu_kinds = {"local": "", "ray (both nodes)": ray_exec}
        for name, executor in cpu_kinds.items():
            if name.split()[0] not in wanted or "cpu" not in args.parts:
                continue
            print(f"cpu: {name}", flush=True)
            results.setdefault(name, {})["cpu"] = bench_cpu(tmp / name / "cpu", executor,
                                                           args.trials, args.window)
            print(results[name]["cpu"], flush=True)
    text = report(results, args)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


def report(results: dict, args: argparse.Namespace) -> str:
    import ray

    lines = [
        "# Ray executor: reports through Ray against the local executor",
        "",
        f"`python benchmarks/bench_ray.py` on {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}, "
        f"Ray {ray.__version__}; a two-node Ray cluster on the same machine (head + a "
        "second `ray start --address`, 2 CPUs each), supervisor on the head's machine. "
        "Everything (supervisor, Ray, trials) shares the same CPUs.",
        "",
        "## Report-to-store latency (one trial, a point every 100 ms)",
        "",
        "| executor | points | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        if "latency" in r:
            lat = r["latency"]
            lines.append(f"| {name} | {lat['n']} | {lat['p50']:.0f} | {lat['p95']:.0f} | "
                         f"{lat['max']:.0f} |")
    lines += ["", "## Metric throughput (one trial, 200,000 points as fast as it can)", "",
              "| executor | points stored | seconds | points/s |", "|---|---:|---:|---:|"]
    for name, r in results.items():
        if "throughput" in r:
            t = r["throughput"]
            lines.append(f"| {name} | {t['points']} | {t['seconds']:.1f} | {t['rate']:,.0f} |")
    lines += ["", f"## Supervisor CPU with {args.trials} trials, each reporting 1 point/s "
              f"({args.window:.0f} s window)", "",
              "| executor | trials | supervisor CPU % of one core | points/s stored | "
              "supervisor RSS MB | whole machine CPU % |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        if "cpu" in r:
            c = r["cpu"]
            lines.append(f"| {name} | {c['trials']} | {c['cpu_pct']:.1f} | "
                         f"{c['points_per_s']:.0f} | {c['rss_mb']:.0f} | {c['host_pct']:.0f} |")
    lines += [
        "",
        "## Reading these numbers",
        "",
        "- Latency: locally a point waits for the trial's sink to flush (every 0.2 s) and "
        "its SQLite commit. Through Ray it waits for the relay sink's flush (every 0.05 s), "
        "the node actor's look at the relay (every 0.05 s while a pull waits), the Ray call "
        "and the supervisor's next tick (0.1 s). Both come out at about 150 ms in the "
        "median; Ray adds some 15-30 ms.",
        "- Throughput: one trial through Ray reaches about two thirds of the local rate: the "
        "points are parsed on the node, pickled through Ray (up to 2 MB a pull) and written "
        "by the supervisor in one transaction per batch; here all of it shares two CPUs "
        "with the trial. Both are far above what a training loop reports.",
        "- Supervisor CPU: with 64 trials the Ray supervisor does less than the local one: it "
        "keeps one pull per trial outstanding (about two calls a second for a quiet trial), "
        "reads stop requests and tweaks once every 0.2 s for all trials at once, and samples "
        "nodes once a second, while the local supervisor also tails 64 logs and checks 64 "
        "process trees itself. The machine was saturated by 64 trials, 64 Ray workers and "
        "their watchdogs on two cores, so both numbers are upper bounds.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
