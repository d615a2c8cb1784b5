"""One real run: the mnist_mlp sample with Bayesian search + ASHA against random
search, same trial budget; best validation accuracy and total epochs spent.

Real TensorFlow training through the real engine (headless supervisor in process).
Without a cached MNIST the sample trains on scikit-learn's 8x8 digits (it says so).

    python benchmarks/bench_mnist_real.py --trials 12 --concurrent 2 --seeds 0 1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import tomllib

from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import Supervisor
from tuitune.core.spec import parse_spec
from tuitune.store import RunStore

SAMPLE = Path(__file__).resolve().parent.parent / "sample_specs" / "mnist_mlp.toml"


def variant(strategy: str, asha: bool, trials: int, concurrent: int, seed: int):
    raw = tomllib.loads(SAMPLE.read_text())
    raw["search"] = {"strategy": strategy, "seed": seed}
    if strategy == "bayes":
        raw["search"]["n_initial"] = max(3, trials // 3)
    raw["budget"].update(max_trials=trials, max_concurrent=concurrent)
    if asha:
        raw["stopping"] = {"rules": ["asha"], "asha": {"min_steps": 1, "reduction_factor": 3}}
    return parse_spec(raw, SAMPLE)


def run(spec, root: Path) -> dict[str, float]:
    run_dir = create_run(spec, root)
    t0 = time.perf_counter()
    Supervisor(run_dir).run()
    wall = time.perf_counter() - t0
    store = RunStore(run_dir)
    accs = [p.value for p in store.metrics(name="val_accuracy") if math.isfinite(p.value)]
    epochs = sum(max((p.step for p in store.metrics(trial_id=t.id, name="val_loss")),
                     default=0) for t in store.trials())
    states = [t.state for t in store.trials()]
    return {"best_acc": max(accs, default=float("nan")), "epochs": epochs, "wall": wall,
            "pruned": states.count("pruned"), "completed": states.count("completed")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--concurrent", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args()
    print(f"command: python benchmarks/bench_mnist_real.py --trials {args.trials} "
          f"--concurrent {args.concurrent} --seeds {' '.join(map(str, args.seeds))}  "
          f"(cores: {os.cpu_count()})\n")
    print("| method | seed | best val_accuracy | epochs spent | completed | pruned | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for label, strategy, asha in (("random", "random", False),
                                          ("bayes + ASHA", "bayes", True)):
                spec = variant(strategy, asha, args.trials, args.concurrent, seed)
                r = run(spec, Path(tmp) / f"{strategy}-{seed}")
                print(f"| {label} | {seed} | {r['best_acc']:.4f} | {r['epochs']} | "
                      f"{r['completed']} | {r['pruned']} | {r['wall']:.0f} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
