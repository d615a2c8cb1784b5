"""A broken store.db (empty, truncated, random bytes) gives one line naming the file, and
changes nothing; `ls` marks that run unreadable and lists the others (issue 12.9).

The stores are real SQLite files written by tuitune, then damaged on disk.
"""

from __future__ import annotations

import os

import pytest

from tests.support.processes import cli
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.store import RunStore

from .bad_input import one_trial_spec, run_cli

SPEC = one_trial_spec(name="b")


def _run_with_history(spec_path, trials: int = 60):
    """A run whose store spans many pages (trials, points, events), so a cut in the
    middle leaves page 1 readable and breaks what lies beyond it."""
    run_dir = create_run(load_spec(spec_path))
    store = RunStore(run_dir)
    try:
        for i in range(trials):
            tid = store.create_trial({"lr": 0.01}, origin="manual", actor="test",
                                     message="x" * 200)
            store.add_event("note", "test", "y" * 200, trial_id=tid)
    finally:
        store.close()
    return run_dir


BREAKS = {
    "empty": lambda data: b"",
    "half": lambda data: data[: len(data) // 2],
    "first page only": lambda data: data[:4096],
    "random bytes": lambda data: os.urandom(len(data)),
    "zeroed header": lambda data: b"\0" * 100 + data[100:],
}


@pytest.fixture
def runs(tmp_path, tt_home):
    (tmp_path / "train.py").write_text("print('hi')\n")
    spec = tmp_path / "b.toml"
    spec.write_text(SPEC)
    return [_run_with_history(spec) for _ in range(2)]


@pytest.mark.parametrize("how", list(BREAKS))
@pytest.mark.parametrize("command", [["status"], ["export"], ["resume"], ["attach"],
                                     ["best"], ["events"], ["kill", "1"]])
def test_broken_store_is_one_line_and_left_alone(runs, how, command):
    broken = runs[0]
    db = broken / "store.db"
    db.write_bytes(BREAKS[how](db.read_bytes()))
    before = _files(broken)

    code, out, err = run_cli([command[0], broken.name, *command[1:]])

    assert code != 0
    assert err.count("\n") == 1 and err.startswith("tuitune: error: "), err
    assert str(db) in err and "cannot read this run's store" in err, err
    assert _files(broken) == before  # not turned into an empty database, no log written


def _files(folder):
    # SQLite's side files (-wal empty, -shm an index) may appear when page 1 is intact
    # and the connection opened; they hold no data and the store itself is unchanged.
    return {p.name: p.read_bytes() for p in folder.iterdir()
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.mark.parametrize("how", list(BREAKS))
def test_ls_marks_the_broken_run_and_lists_the_rest(runs, how):
    broken, good = runs
    db = broken / "store.db"
    db.write_bytes(BREAKS[how](db.read_bytes()))

    code, out, err = run_cli(["ls"])  # the CLI's code, in this process
    _check_listing(code, out, err, broken, good)


def test_ls_run_as_a_user_would_marks_the_broken_run(runs):
    broken, good = runs
    db = broken / "store.db"
    db.write_bytes(BREAKS["half"](db.read_bytes()))
    listing = cli("ls")  # a real process, as a user would run it
    _check_listing(listing.returncode, listing.stdout, listing.stderr, broken, good)


def _check_listing(code, out, err, broken, good):
    assert code == 0 and err == "", err
    lines = {line.split()[0]: line for line in out.splitlines()}
    db = broken / "store.db"
    assert "unreadable" in lines[broken.name] and str(db) in lines[broken.name]
    assert lines[good.name].split()[3:5] == ["detached", "0/60"]  # 60 trials, none done
