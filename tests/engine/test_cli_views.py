"""`tuitune status`, `best` and `ls` for a person (fit the terminal, numbers by one rule,
aligned) and for scripts (`--json`, exact values): issue 14.11-13 and 14.2.

The run is real: a supervisor and trial processes, driven by the CLI."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

from tests.support.processes import start_headless
from tests.support.specs import write_spec
from tests.support.store_reads import read, trial
from tests.support.waiting import wait_for
from tuitune.core import numfmt
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run

from .bad_input import run_cli

pytestmark = pytest.mark.slow  # one real run for the module: ~15 s on a loaded machine

NOTE = "lr warmup looked unstable around step ten so this one is worth a second look later"


@pytest.fixture(scope="module")
def _shared_run(tmp_path_factory):
    """A finished random run of 3 trials, 4 parameters each, one with a long note; made
    once for this module (a real run takes a while on a loaded machine)."""
    tmp = tmp_path_factory.mktemp("views")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUITUNE_HOME", str(tmp / "home"))
        spec = write_spec(tmp / "exp", name="views", steps=20, sleep=0.1, strategy="random",
                          concurrent=3, budget="max_trials = 3")
        proc, run_dir = start_headless(spec, tmp / "home")
        try:
            wait_for(lambda: trial(run_dir, 1) and trial(run_dir, 1).state == "running",
                     what="trial 1 running")
            code, _, err = run_cli(["note", run_dir.name, "1", NOTE])
            assert code == 0, err
            assert proc.wait(timeout=120) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    return run_dir


@pytest.fixture
def finished_run(_shared_run, monkeypatch):
    monkeypatch.setenv("TUITUNE_HOME", str(_shared_run.parent.parent))
    monkeypatch.setenv("COLUMNS", "80")  # what `tuitune` sees when not on a terminal
    return _shared_run


def _cli(*args: str) -> str:
    code, out, err = run_cli(list(args))
    assert code == 0 and err == "", err
    return out


def _exact_best(run_dir) -> dict[int, float]:
    best: dict[int, float] = {}
    for tid, _, v in read(run_dir, lambda s: list(s.metric_rows("loss"))):
        best[tid] = min(v, best.get(tid, math.inf))
    return best


def test_status_fits_80_columns_and_wide_shows_everything_in_the_row(finished_run):
    shown = _cli("status", finished_run.name)
    assert max(map(len, shown.splitlines())) <= 80, shown
    params = read(finished_run, lambda s: [s.current_params(t) for t in s.trials()])
    for p in params:  # every parameter of every trial is still shown, wrapped under its row
        assert " ".join(f"{k}={numfmt.value(v)}" for k, v in p.items()) in shown, shown
    assert all(word in shown for word in NOTE.split())

    wide = _cli("status", finished_run.name, "--wide")
    assert max(map(len, wide.splitlines())) > 80
    row = next(line for line in wide.splitlines() if line.lstrip().startswith("1 "))
    assert "lr=" in row and NOTE in row  # one line per trial


def test_numbers_have_4_significant_digits_and_line_up(finished_run):
    shown = _cli("status", finished_run.name).splitlines()
    header = next(i for i, line in enumerate(shown) if line.startswith("id"))
    end = shown[header].index("best") + len("best")
    rows = [line for line in shown[header + 1:] if not line.startswith("    ")]
    exact = _exact_best(finished_run)
    assert len(rows) == 3
    points = set()
    for line in rows:
        tid = int(line.split()[0])
        cell = line[:end].split()[-1]  # under its header, decimal points lined up
        assert cell == numfmt.column_number(exact[tid]), line
        assert len(re.sub(r"[^0-9]", "", cell).lstrip("0")) == 4
        points.add(line.index(cell) + cell.index("."))
    assert len(points) == 1, rows
    lrs = re.findall(r"lr=(\S+)", "\n".join(shown))
    assert lrs and all(len(re.sub(r"[^0-9]", "", v).lstrip("0")) <= 4 for v in lrs), lrs


def test_status_and_best_json_are_exact(finished_run):
    exact = _exact_best(finished_run)
    status = json.loads(_cli("status", finished_run.name, "--json"))
    assert set(status) == {"run", "state", "strategy", "max_trials", "created_at",
                           "supervisor_pid", "objective", "trials"}
    assert status["objective"] == {"metric": "loss", "mode": "min"}
    stored = {t.id: t for t in read(finished_run, lambda s: s.trials())}
    for t in status["trials"]:
        assert set(t) == {"id", "state", "origin", "parent_id", "step", "latest", "best",
                          "started_at", "ended_at", "params", "changes", "note"}
        assert t["best"] == exact[t["id"]] and t["params"] == stored[t["id"]].params
        assert t["step"] == 20 and t["state"] == "completed"
    assert status["trials"][0]["note"] == NOTE

    best = json.loads(_cli("best", finished_run.name, "--json"))
    assert [t["id"] for t in best["trials"]] == sorted(exact, key=exact.get)
    assert [t["rank"] for t in best["trials"]] == [1, 2, 3]
    assert best["trials"][0]["best"] == min(exact.values())


def test_ls_lists_by_start_time_with_state_trials_and_best(finished_run, tmp_path):
    # A run created later, whose folder is then touched less recently than the first's:
    # the order is the start time's, not the folder's mtime.
    later = create_run(load_spec(write_spec(tmp_path / "later", name="later")),
                       clock=lambda: 4102444800.0)  # 2100-01-01: after any real run
    os.utime(finished_run, (4102444900, 4102444900))
    listing = _cli("ls").splitlines()
    assert listing[0].split() == ["run", "started", "state", "trials", "best"]
    names = [line.split()[0] for line in listing[1:3]]
    assert names == [finished_run.name, later.name]
    exact = min(_exact_best(finished_run).values())
    assert listing[1].split()[3:] == ["finished", "3/3", numfmt.column_number(exact), "(loss)"]
    assert listing[2].split()[3:] == ["detached", "0/0", "-"]
    assert "`tuitune resume RUN`" in listing[-1]  # what to do about a detached run

    runs = json.loads(_cli("ls", "--json"))
    assert [r["name"] for r in runs] == names
    assert set(runs[0]) == {"name", "path", "state", "created_at", "trials_done",
                            "trials_total", "best", "objective", "error", "objectives",
                            "front", "infeasible"}
    # One objective, no constraint: no front (tests/engine/test_cli_several_objectives.py).
    assert runs[0]["objectives"] == [{"metric": "loss", "mode": "min", "best": exact}]
    assert runs[0]["front"] is None and runs[0]["infeasible"] is None
    assert runs[0]["best"] == exact and runs[0]["trials_done"] == 3
    assert runs[1]["state"] == "detached" and runs[1]["created_at"] == 4102444800.0



def test_gpu_json_is_one_snapshot_without_once(tmp_path):
    shown = subprocess.run([sys.executable, "-m", "tuitune", "gpu", "--json"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stderr
    snapshot = json.loads(shown.stdout)
    assert set(snapshot) == {"t", "gpu_status", "gpus", "host", "trials", "orphans",
                             "gpu_owners"}
    assert {"cpu_pct", "ncpu", "ram_used_mb", "ram_total_mb", "ram_pct"} <= set(snapshot["host"])


def test_messages_and_events_show_the_rule_and_json_keeps_the_exact_value(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", name="manual", steps=400, sleep=0.05)  # waits for us
    proc, run_dir = start_headless(spec, tt_home)
    artifact = 0.005000000000000001  # what 0.001 * 5 is in binary floating point
    try:
        code, said, err = run_cli(["new", run_dir.name, f"lr={artifact!r}"])
        assert code == 0, err
        assert "lr=0.005 " in said and "0.005000000000000001" not in said, said
        wait_for(lambda: trial(run_dir, 1) and trial(run_dir, 1).state == "running",
                 timeout=60, what="trial 1 running")
        code, said, err = run_cli(["clone", run_dir.name, "1", "--set", "lr=0.30000000000000004"])
        assert code == 0, err
        assert "lr=0.3 " in said and "0.30000000000000004" not in said, said
        events = _cli("events", run_dir.name)
        assert "changed lr=0.3" in events and "0.30000000000000004" not in events, events
        status = json.loads(_cli("status", run_dir.name, "--json"))
        assert [t["params"]["lr"] for t in status["trials"]] == [artifact, 0.30000000000000004]
    finally:
        run_cli(["stop", run_dir.name])
        proc.wait(60)
