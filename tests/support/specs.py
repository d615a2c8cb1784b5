"""The stepping trial script and the spec the engine tests write (real processes;
`fake_runs.stepper` is the same trial for the fake executor)."""

from __future__ import annotations

import textwrap
from pathlib import Path

#: A trial script using the in-trial API: reports `loss` and `lr` each step,
#: applies tweaks, saves a checkpoint each step, prints "step N", honours stop
#: requests. The Ray tests run it on their nodes too.
STEPPER = """
import os, sys, time
import tuitune.in_trial.trial as tt
p = tt.params()
lr = float(p.get("lr", 0.1))
steps = int(p.get("steps", 40))
start = tt.initial_step()
if tt.initial_checkpoint() is not None:
    print("resumed from", tt.initial_checkpoint().read_text(), flush=True)
for step in range(start + 1, steps + 1):
    lr = float(tt.apply_tweaks(step).get("lr", lr))
    tt.report(step, loss=1.0 / (step * lr + 1.0), lr=lr)
    ckpt = tt.checkpoint_dir() / f"ckpt-{step}.txt"  # a new file per step, written whole
    ckpt.with_suffix(".tmp").write_text(str(step))
    ckpt.with_suffix(".tmp").replace(ckpt)
    tt.checkpoint_saved(ckpt, step)
    print("step", step, flush=True)
    if tt.should_stop():
        break
    time.sleep(float(p.get("sleep", 0.1)))
"""

#: SGD's momentum: exists only with opt = "sgd" (a conditional parameter, issue
#: 17.1); tweakable while a trial runs. The spec using it must declare `opt`.
MOMENTUM = """
[space.momentum]
type = "float"
low = 0.5
high = 0.99
default = 0.9
mutable = true
passed = "api"
when = { opt = "sgd" }
"""

SPEC = """
name = "{name}"
command = ["{{python}}", "{script}"]
kill_grace = {kill_grace}

[space.lr]
type = "float"
low = 0.0001
high = 1.0
log = true
mutable = true
default = 0.1

[space.units]
type = "int"
low = 1
high = 64
default = 8

[space.steps]
type = "fixed"
value = {steps}

[space.sleep]
type = "fixed"
value = {sleep}

[objective]
metric = "loss"
mode = "min"

[budget]
max_concurrent = {concurrent}
{budget}

[search]
strategy = "{strategy}"
"""


def write_spec(folder: Path, script: str = STEPPER, name: str = "t", steps: int = 40,
               sleep: float = 0.1, strategy: str = "manual", concurrent: int = 4,
               budget: str = "", extra: str = "", kill_grace: float = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.py").write_text(textwrap.dedent(script))
    spec = folder / f"{name}.toml"
    spec.write_text(SPEC.format(name=name, script="script.py", steps=steps, sleep=sleep,
                                strategy=strategy, concurrent=concurrent, budget=budget,
                                kill_grace=kill_grace)
                    + extra)
    return spec
