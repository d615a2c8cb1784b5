"""Acceptance: `tuitune insight` on a real finished quickstart run, and on a run
with too few trials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.processes import cli
from tests.support.specs import write_spec
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run

QUICKSTART = Path(__file__).resolve().parents[2] / "sample_specs" / "quickstart.toml"


@pytest.mark.slow
def test_insight_on_a_finished_quickstart_run(tt_home, tmp_path):
    text = QUICKSTART.read_text()  # its 12 trials, 8 epochs each instead of 20
    assert "max_trials = 12 " in text
    text = text.replace('"train_numpy.py"', f'"{QUICKSTART.parent / "train_numpy.py"}"')
    spec = tmp_path / "quickstart.toml"
    spec.write_text(text.replace("value = 20", "value = 8").replace("max_steps = 20",
                                                                      "max_steps = 8"))
    ran = cli("run", str(spec), "--headless", timeout=240)
    assert ran.returncode == 0, ran.stdout[-2000:]
    run = next((tt_home / "runs").iterdir())
    out = cli("insight", str(run), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    names = {p["name"] for p in report["importance"]["params"]}
    assert names == {"lr", "hidden", "batch_size"}  # every searched parameter, not epochs
    assert all(p["trials"] == 12 for p in report["importance"]["params"])
    assert all(0 <= p["importance"] <= 1 for p in report["importance"]["params"])
    assert report["importance"]["method"] == "fANOVA of the GP"
    assert abs(sum(p["importance"] for p in report["ped_anova"]["params"]) - 1) < 1e-9
    for advice in report["advice"]:
        assert advice["title"] and advice["evidence"]
        assert advice["command"] in ("space", "tweak", "kill", None)
    plain = cli("insight", str(run))
    assert plain.returncode == 0 and plain.stdout.startswith("importance (fANOVA of the GP, 12 trials")


def test_insight_with_too_few_trials_says_so_in_one_line(tt_home, tmp_path):
    run = create_run(load_spec(write_spec(tmp_path / "exp")), tt_home / "runs")
    out = cli("insight", str(run))
    assert out.returncode == 0
    assert out.stdout.count("\n") == 1 and "needs at least 10 finished trials" in out.stdout
