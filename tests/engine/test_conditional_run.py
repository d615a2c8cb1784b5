"""Conditional parameters through the real engine (issue 17.1): a headless run of a
Bayesian search on a conditional space. Every trial's argv has exactly the argument
groups of its active parameters, its `tuitune.trial.params()` and the store hold
only those (the store's trials are what the searcher's observations are built from).
Real supervisor, real trial processes, real store."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import cli, single_run
from tests.support.store_reads import read
from tuitune.core.spec import load_spec

pytestmark = pytest.mark.slow

SCRIPT = """
import json, os, pathlib, sys
import tuitune.in_trial.trial as tt
p = tt.params()
(pathlib.Path(os.environ["TUITUNE_TRIAL_DIR"]) / "seen.json").write_text(json.dumps({"argv": sys.argv[1:], "params": p}))
loss = (p["layers"] - 2) ** 2 + (0.1 if p["opt"] == "adam" else p["momentum"])
tt.report(1, loss=loss)
"""

SPEC = """
name = "cond"
command = ["{python}", "train.py", "--layers", "{layers}", ["--units2", "{units_2}"],
           "--opt", "{opt}", ["--momentum={momentum}"]]
[space.layers]
type = "int"
low = 1
high = 3
[space.units_2]
type = "int"
low = 8
high = 64
when = "layers >= 2"
[space.opt]
type = "categorical"
choices = ["sgd", "adam"]
[space.momentum]
type = "float"
low = 0.5
high = 0.99
when = { opt = "sgd" }
[objective]
metric = "loss"
[budget]
max_trials = 8
max_concurrent = 2
[search]
strategy = "bayes"
n_initial = 4
candidates = 128
restarts = 2
"""


def test_a_conditional_run_passes_only_active_parameters(tmp_path, tt_home):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)
    (folder / "spec.toml").write_text(SPEC)
    out = cli("run", str(folder / "spec.toml"), "--headless", timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = single_run(tt_home)
    trials = read(run_dir, lambda s: s.trials())
    assert len(trials) == 8 and all(t.state == "completed" for t in trials)
    space = load_spec(folder / "spec.toml").space
    branches = set()
    for t in trials:
        seen = json.loads((run_dir / "trials" / str(t.id) / "seen.json").read_text())
        expected = space.active(t.params)
        assert t.params == expected == seen["params"]
        assert ("units_2" in t.params) == (t.params["layers"] >= 2)
        assert ("momentum" in t.params) == (t.params["opt"] == "sgd")
        argv = seen["argv"]
        assert ("--units2" in argv) == ("units_2" in t.params)
        assert any(a.startswith("--momentum=") for a in argv) == ("momentum" in t.params)
        branches.add((t.params["layers"] >= 2, t.params["opt"]))
    assert len(branches) >= 2  # both kinds of configuration were tried
