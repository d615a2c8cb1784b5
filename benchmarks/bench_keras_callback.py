"""Overhead of TuituneCallback on Keras training, against the same training without it.

The process makes itself a real tuitune trial first: it creates a run with
`create_run`, a trial in its store, and sets the TUITUNE_* environment the
launcher would set, so every report goes through the real sink into SQLite (its
background flush thread included), tweaks are polled from the real store each
epoch and stop requests before each batch.

The model is the MNIST-MLP sample's (784 -> 256 -> 128 -> 10, Adam) on
MNIST-shaped synthetic data (timing does not depend on the pixel values), no
validation set, so overheads are relative to the training loop alone (a
validation pass would only dilute them). Each configuration trains its own copy
of the model; after a warm-up fit (tracing), configurations take turns, a `fit`
of 10 epochs each, and the median of the repeats is reported.

Two measures per configuration:
- end to end: the process's CPU time per epoch (all its threads) against the
  no-callback median; this includes indirect costs (the sink thread's SQLite
  writes, Keras waiting on each batch's values when a batch hook is present).
  CPU time resists other processes on a shared machine better than wall time,
  but is still noisy at the level of a few percent; wall time is shown too;
- the callback's own code: time spent inside its hooks, measured directly with
  perf_counter around each hook (precise; excludes indirect costs).

Run:
    python benchmarks/bench_keras_callback.py [--repeats 5] [--epochs 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SPEC = """
name = "bench-keras"
command = ["{python}", "unused.py"]
[space.lr]
type = "float"
low = 0.0001
high = 0.1
log = true
mutable = true
[objective]
metric = "loss"
mode = "min"
"""

#: (label, TuituneCallback options or None for no callback)
CONFIGS: list[tuple[str, dict[str, Any] | None]] = [
    ("no callback (baseline)", None),
    ("per epoch, no checkpoint", {"checkpoint": False}),
    ("per epoch + checkpoint every epoch (trial default: in the background)", {}),
    ("per epoch + checkpoint every epoch, synchronous (checkpoint_background=False)",
     {"checkpoint_background": False}),
    ("per epoch + synchronous checkpoints, checkpoint_max_overhead=0.02",
     {"checkpoint_background": False, "checkpoint_max_overhead": 0.02}),
    ("per epoch + every 10 batches", {"batch_every": 10, "checkpoint": False}),
    ("per epoch + every batch", {"batch_every": 1, "checkpoint": False}),
]

ONCE = ("on_train_begin", "on_train_end")
HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
         "on_epoch_end", "on_train_end", "on_test_begin", "on_test_end")


def become_a_trial(root: Path) -> Path:
    """Create a run and a running trial; point this process's TUITUNE_* at them."""
    from tuitune.engine.runs import create_run, trial_dir
    from tuitune.core.spec import load_spec
    from tuitune.store import DB_NAME, RunStore

    spec_path = root / "bench.toml"
    spec_path.write_text(SPEC)
    run_dir = create_run(load_spec(spec_path), root / "runs")
    store = RunStore(run_dir)
    tid = store.create_trial({"lr": 1e-3}, "manual", "bench")
    store.transition(tid, "running", "engine", f"trial {tid} started (benchmark)")
    store.close()
    folder = trial_dir(run_dir, tid)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "TUITUNE_RUN_DIR": str(run_dir), "TUITUNE_STORE": str(run_dir / DB_NAME),
        "TUITUNE_TRIAL_ID": str(tid), "TUITUNE_TRIAL_DIR": str(folder),
        "TUITUNE_PARAMS": '{"lr": 0.001}',
    })
    return run_dir


class HookTimer:
    """Accumulates the time spent in each of a callback's own hooks: wall time, and
    the calling thread's CPU time (which, unlike wall time, does not count the
    moments the process waits for a core on a busy machine)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, cb: Any) -> None:
        import keras

        base = keras.callbacks.Callback
        for name in HOOKS:
            overridden = name in vars(cb) or getattr(type(cb), name) is not getattr(base, name)
            if overridden:  # wrapping a default hook would change how Keras dispatches
                setattr(cb, name, self._timed(name, getattr(cb, name)))

    def per_epoch(self, which: dict[str, float]) -> float:
        """Seconds in hooks that run every epoch or batch."""
        return sum(v for k, v in which.items() if k not in ONCE)

    def per_fit(self, which: dict[str, float]) -> float:
        """Seconds in the once-per-fit hooks (train begin/end: the final flush)."""
        return sum(v for k, v in which.items() if k in ONCE)

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            c0, t0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - t0
                self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - c0
        return timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=10, help="epochs per timed fit")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow threads (0: default)")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "keras_callback.md")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tuitune-bench-keras-"))
    run_dir = become_a_trial(workdir)

    import keras
    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    import tuitune.in_trial.trial as tt
    from tuitune.in_trial.keras import TuituneCallback

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    steps = -(-args.samples // args.batch_size)

    def make_model() -> keras.Model:
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
        m.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    models = [make_model() for _ in CONFIGS]
    wall: list[list[float]] = [[] for _ in CONFIGS]  # seconds per epoch
    cpu: list[list[float]] = [[] for _ in CONFIGS]  # process CPU seconds per epoch
    own: list[list[float]] = [[] for _ in CONFIGS]  # CPU s in per-epoch hooks, per epoch
    own_wall: list[list[float]] = [[] for _ in CONFIGS]  # the same, wall time
    once: list[list[float]] = [[] for _ in CONFIGS]  # CPU s in train begin/end, per fit
    once_wall: list[list[float]] = [[] for _ in CONFIGS]  # the same, wall time

    def timed_fit(i: int, epochs: int) -> tuple[float, float, HookTimer]:
        options = CONFIGS[i][1]
        callbacks, timer = [], HookTimer()
        if options is not None:
            cb = TuituneCallback(**options)
            timer.wrap(cb)
            callbacks.append(cb)
        c0, t0 = time.process_time(), time.perf_counter()
        models[i].fit(x, y, batch_size=args.batch_size, epochs=epochs, callbacks=callbacks,
                      verbose=0)
        return time.perf_counter() - t0, time.process_time() - c0, timer

    for i in range(len(CONFIGS)):  # warm-up: tracing, first checkpoint, sink start
        timed_fit(i, 1)
    for r in range(args.repeats):
        order = list(range(len(CONFIGS)))
        order = order[r % len(order):] + order[:r % len(order)]  # rotate against drift
        for i in order:
            w, c, timer = timed_fit(i, args.epochs)
            wall[i].append(w / args.epochs)
            cpu[i].append(c / args.epochs)
            own[i].append(timer.per_epoch(timer.cpu) / args.epochs)
            own_wall[i].append(timer.per_epoch(timer.wall) / args.epochs)
            once[i].append(timer.per_fit(timer.cpu))
            once_wall[i].append(timer.per_fit(timer.wall))
        print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    tt.flush()

    med = statistics.median
    base_cpu = med(cpu[0])
    step = base_cpu / steps
    rows = []
    for i, (label, options) in enumerate(CONFIGS):
        every = (options or {}).get("batch_every", 0)
        reported = steps // every if every else 0
        cells = [label, f"{med(cpu[i]) * 1e3:.0f} ({min(cpu[i]) * 1e3:.0f}-"
                        f"{max(cpu[i]) * 1e3:.0f})", f"{med(wall[i]) * 1e3:.0f}"]
        if options is None:
            rows.append((*cells, "", "", "", "", ""))
            continue
        per_batch = ""
        if reported:  # the batch hook's own cost, beyond per-epoch reporting
            extra = (med(own[i]) - med(own[1])) / reported
            per_batch = f"{extra * 1e6:.0f} ({extra / step:.2%})"
        rows.append((*cells, f"{(med(cpu[i]) - base_cpu) / base_cpu:+.1%}",
                     f"{med(own[i]) * 1e3:.2f} ({med(own[i]) / base_cpu:.2%})",
                     f"{med(own_wall[i]) * 1e3:.2f}", str(reported) if reported else "", per_batch))

    from tuitune.store import RunStore

    store = RunStore(run_dir)
    stored = store.count_metrics()
    store.close()

    header = ("| configuration | CPU ms / epoch, median (min-max) | wall ms / epoch, median "
              "| end-to-end CPU overhead | callback's own code, CPU ms / epoch (% of epoch) "
              "| same, wall ms | batch reports / epoch "
              "| own code per reported batch, CPU µs (% of a step) |")
    lines = [header, "|" + "---|" * 8]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines)
    command = "python benchmarks/bench_keras_callback.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out")
    target = med(own[1]) / base_cpu
    noise = (max(cpu[0]) - min(cpu[0])) / base_cpu
    save = med(own_wall[3]) - med(own_wall[1])  # one synchronous save per epoch there
    background = med(own[2]) / base_cpu  # the epoch-end snapshot, in the training thread
    background_e2e = (med(cpu[2]) - base_cpu) / base_cpu
    verdict = (
        f"Per-epoch reporting (no checkpoint): the callback's own code takes {target:.2%} "
        f"of an epoch in CPU time ({med(own_wall[1]) / med(wall[0]):.2%} in wall time). "
        f"Target < 1%: {'met' if target < 0.01 else 'NOT met'}.\n\n"
        f"End-to-end differences are process CPU time (all threads: TensorFlow's, the "
        f"sink's SQLite writes); the baseline's own spread across repeats was "
        f"{noise:.0%} of an epoch here, so end-to-end differences smaller than that are "
        f"noise. Once per fit, train begin/end (the final flush) took "
        f"{med(once[1]) * 1e3:.1f} ms of CPU.\n\n"
        f"Checkpoints: one synchronous save (`model.save`, .keras, weights and Adam "
        f"state) takes about {save * 1e3:.0f} ms wall, {save / med(wall[0]):.0%} of one of "
        f"these short epochs. In the background (the default), the training thread only "
        f"snapshots the variables at the epoch's end: the callback's own code with a "
        f"checkpoint every epoch takes {background:.2%} of an epoch in CPU time "
        f"({med(own_wall[2]) / med(wall[0]):.2%} in wall time). Target < 1%: "
        f"{'met' if background < 0.01 else 'NOT met'}. The writer thread still does the "
        f"save's work on another core: end to end the process used {background_e2e:+.1%} "
        f"CPU against the baseline (the save's CPU, now off the training thread). "
        f"Once per fit, the training thread waits for its last save at train end: "
        f"{med(once_wall[2]) * 1e3:.0f} ms wall in train begin/end with background "
        f"checkpoints, against {med(once_wall[1]) * 1e3:.1f} ms without checkpoints. "
        f"`checkpoint_max_overhead=0.02` (synchronous) spaces saves out so that over a long "
        f"run they take about 2% of the training time; a fit still saves its first and "
        f"last epochs, which is what that row shows over a {args.epochs}-epoch fit.")
    threads = args.threads or "default"
    report = f"""# TuituneCallback overhead

Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()},
TensorFlow {tf.__version__}, Keras {keras.__version__}; TensorFlow threads: {threads}.
Model: MLP 784-256-128-10 (Adam), batch {args.batch_size}, {steps} steps per epoch
(one step: {step * 1e3:.2f} ms of CPU), no validation set; {args.repeats} repeats of
{args.epochs}-epoch fits per configuration, interleaved. Reports go into a real run
store ({stored} metric points written by this run).

Command:

    {command}

{table}

{verdict}
"""
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
