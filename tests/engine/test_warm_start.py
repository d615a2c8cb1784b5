"""Warm start with real runs: a first run finishes, a second one starts from its trials."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import cli
from tests.support.specs import write_spec
from tests.support.store_reads import events, read
from tuitune.engine.warm_start import META_KEY


def _runs(home):
    return sorted(p for p in (home / "runs").iterdir() if (p / "store.db").exists())


@pytest.mark.slow
def test_a_run_warm_started_from_a_finished_one(tt_home, tmp_path):
    first = write_spec(tmp_path / "a", name="a", steps=3, sleep=0.05, strategy="random",
                       concurrent=3, budget="max_trials = 6")
    done = cli("run", str(first), "--headless", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    [source] = _runs(tt_home)

    # Bad sources: one line, exit 2, no run created.
    flipped = write_spec(tmp_path / "max", name="max", strategy="bayes")
    flipped.write_text(flipped.read_text().replace('mode = "min"', 'mode = "max"'))
    for spec, name, said in ((flipped, source.name, "it optimises loss (min), this run loss (max)"),
                             (first, "no-such-run", "no-such-run")):
        bad = cli("run", str(spec), "--headless", "--warm-start", name)
        assert bad.returncode == 2 and said in bad.stderr, bad.stderr
        assert bad.stderr.count("\n") == 1
    assert _runs(tt_home) == [source]

    # This run searches units in [1, 32] and adds a fixed parameter: the earlier trials
    # with units above 32 are refused, the others imported with wd = 0.
    second = write_spec(tmp_path / "b", name="b", steps=3, sleep=0.05, strategy="bayes",
                        concurrent=1, budget="max_trials = 2",
                        extra='n_initial = 2\n[space.wd]\ntype = "fixed"\nvalue = 0.0\n')
    second.write_text(second.read_text().replace("high = 64", "high = 32"))
    warm = cli("run", str(second), "--headless", "--warm-start", source.name, timeout=180)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    [run] = [r for r in _runs(tt_home) if r != source]
    record = read(run, lambda s: s.meta()[META_KEY])
    units = {t.id: t.params["units"] for t in read(source, lambda s: s.trials())}
    assert len(record["imported"]) + len(record["refused"]) == 6
    assert {r["source_trial"] for r in record["imported"]} == {
        i for i, u in units.items() if u <= 32}
    for r in record["refused"]:
        assert units[r["source_trial"]] > 32 and "outside this run's space" in r["reason"]
    assert all(r["params"]["wd"] == 0.0 and r["source_run"] == source.name
               for r in record["imported"])
    n = len(record["imported"])
    assert f"warm start: {n} trial" in warm.stdout
    # Not trials of this run, not counted in its budget: it ran its own two.
    assert read(run, lambda s: s.count_trials()) == 2
    suggested = [e.message for e in events(run) if e.kind == "created"]
    assert n >= 2  # seed 0 draws units 18, 59, 60, 3, 35, 8
    # Past n_initial = 2 with the imports alone: the model from the first ask.
    assert "initial design" not in suggested[0] and "by bayes" in suggested[0], suggested
    listed = cli("status", run.name, "--imported")
    assert listed.returncode == 0 and listed.stdout.count(f"{source.name} trial") == 6
    assert cli("insight", run.name).returncode == 0

    # The two runs compared: their best trials side by side.
    shown = cli("compare", source.name, run.name)
    assert shown.returncode == 0, shown.stderr
    head, *rows = shown.stdout.splitlines()
    assert source.name in head and run.name in head
    cells = {r.split()[0]: r.split()[1:] for r in rows}
    assert cells["wd"] == ["-", "0"] and set(cells) >= {"trial", "state", "loss", "lr", "units"}
    as_json = json.loads(cli("compare", source.name, run.name, "-n", "2", "--json").stdout)
    for side, folder in zip(as_json["runs"], (source, run), strict=True):
        best = min(read(folder, lambda s: [p.value for p in s.metrics(name="loss")]))
        assert side["name"] == folder.name and side["trials"][0]["best"] == best
        assert len(side["trials"]) == 2
    bad = cli("compare", source.name, "no-such-run")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1

    # A parameter this run searches that the first run lacks makes its trials unusable.
    third = write_spec(tmp_path / "c", name="c", steps=3, sleep=0.05, strategy="random",
                       concurrent=1, budget="max_trials = 1",
                       extra='[space.wd]\ntype = "float"\nlow = 0.0\nhigh = 0.1\n')
    cold = cli("run", str(third), "--headless", "--warm-start", source.name, timeout=180)
    assert cold.returncode == 0, cold.stderr
    assert "0 trials imported" in cold.stdout and "6: it has no wd, which this run searches" \
        in cold.stdout, cold.stdout


@pytest.mark.parametrize("theirs,said", [
    (("val_loss", "min"), "it optimises val_loss (min), this run loss (min)"),
    (("loss", "max"), "it optimises loss (max), this run loss (min)")])
def test_another_metric_or_mode_is_refused_in_one_line(theirs, said):
    from tuitune.core.history import Objective
    from tuitune.engine.warm_start import WarmStartError, check_objective

    check_objective(Objective("loss", "min"), Objective("loss", "min"), "a")  # the same: fine
    with pytest.raises(WarmStartError) as caught:
        check_objective(Objective("loss", "min"), Objective(*theirs), "a")
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_the_spec_key_warm_start(tt_home, tmp_path):
    """`[search] warm_start = [...]` imports as --warm-start does; an unknown run in it is
    refused in one line, exit 2, no run created."""
    from tests.support.fake_runs import fake_run, stepper

    from .bad_input import run_cli

    source = fake_run(tmp_path / "a", stepper(steps=3), home=tt_home, strategy="random",
                      concurrent=2, budget="max_trials = 4", steps=5, sleep=0.01)
    source.until(lambda: source.sup.finished, "the first run's end")
    source.sup.close()
    spec = write_spec(tmp_path / "b", name="b", steps=5, sleep=0.01, strategy="random",
                      concurrent=1, budget="max_trials = 1",
                      extra=f'warm_start = ["{source.run_dir.name}"]\n')
    bad = spec.with_name("bad.toml")
    bad.write_text(spec.read_text().replace(source.run_dir.name, "no-such-run"))
    code, _, err = run_cli(["run", str(bad), "--headless"])
    assert code == 2 and "no-such-run" in err and err.count("\n") == 1, err
    assert _runs(tt_home) == [source.run_dir]
    code, out, err = run_cli(["run", str(spec), "--headless"])
    assert code == 0, err
    assert f"warm start: 4 trials imported from {source.run_dir.name}" in out, out
    [run] = [r for r in _runs(tt_home) if r != source.run_dir]
    record = read(run, lambda s: s.meta()[META_KEY])
    assert len(record["imported"]) == 4 and record["sources"] == [source.run_dir.name]
