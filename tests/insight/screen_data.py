"""A deterministic run for the insight screen's tests, written straight into a store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from ui_helpers import FIXED_NOW, FixedClock, write_spec

from tuitune.engine.runs import create_run
from tuitune.core.spec import load_spec
from tuitune.store import RunStore


def val_loss(lr: float, units: int, opt: str, step: int) -> float:
    """Best near lr = 3e-3 and many units; adam a little better; falls with steps."""
    final = 0.3 + 0.08 * (math.log10(lr) + 2.5) ** 2 + 0.2 / units + (0.0 if opt == "adam"
                                                                       else 0.05)
    return final + 0.5 / step


def build_insight_run(root: Path, n: int = 30, steps: int = 10) -> Path:
    clock = FixedClock(FIXED_NOW - 3600)
    run_dir = create_run(load_spec(write_spec(root / "spec", "insightdemo")), root / "runs",
                         clock=clock)
    store = RunStore(run_dir, clock=clock)
    store.set_meta(started_at=FIXED_NOW - 3000, state="running")
    rng = np.random.default_rng(7)
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, 0))
        params = {"lr": round(lr, 6), "units": int(rng.integers(1, 65)),
                  "opt": "adam" if rng.random() < 0.5 else "sgd"}
        origin = "manual" if i < 3 else "random"
        tid = store.create_trial(params, origin, "user" if i < 3 else "search")
        state, last = "completed", steps
        if lr > 0.3:
            state, last = "diverged", 3
        elif i % 7 == 5:
            state, last = "pruned", 3
        points = []
        for s in range(1, last + 1):
            v = val_loss(params["lr"], params["units"], params["opt"], s)
            if state == "diverged" and s == last:
                v = math.nan
            points += [(s, "val_loss", v, FIXED_NOW - 100), (s, "loss", v * 0.9, FIXED_NOW - 100)]
        store.add_metrics(tid, points)
        store.transition(tid, state, "engine", f"trial {tid} {state}",
                         started_at=FIXED_NOW - 2000 + 30 * i, ended_at=FIXED_NOW - 1000 + 30 * i)
    clone = store.create_trial({"lr": 0.003, "units": 60, "opt": "adam"}, "clone", "user",
                               parent_id=1)
    store.add_metrics(clone, [(s, "val_loss", val_loss(0.003, 60, "adam", s), FIXED_NOW - 50)
                              for s in range(1, steps + 1)])
    store.transition(clone, "completed", "engine", "done", started_at=FIXED_NOW - 500,
                     ended_at=FIXED_NOW - 60)
    # A running trial whose loss has been flat for 6 reports: the plateau advice.
    live = store.create_trial({"lr": 0.01, "units": 32, "opt": "adam"}, "manual", "user")
    store.add_metrics(live, [(s, "val_loss", 0.5 if s > 4 else 1.0 / s, FIXED_NOW - 20)
                             for s in range(1, 11)])
    store.transition(live, "running", "engine", "started", started_at=FIXED_NOW - 300)
    store.close()
    return run_dir
