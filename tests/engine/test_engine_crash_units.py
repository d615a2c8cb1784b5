"""Pure pieces of crash safety: the crash point list, the store's intent columns on
stores written by older schemas, and the command state machine."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

import tuitune
from tuitune.engine import crash_points
from tuitune.engine.boundary import one_line
from tuitune.engine.end_plan import EndPlan
from tuitune.store import RunStore
from tuitune.store.schema import SCHEMA_VERSION


def test_every_crash_point_in_the_code_is_listed_once_and_every_listed_one_is_used():
    package = Path(tuitune.__file__).parent
    used = []
    for path in package.rglob("*.py"):
        used += re.findall(r'crash_point\("([^"]+)"\)', path.read_text())
    assert sorted(used) == sorted(crash_points.POINTS)


def test_an_unknown_crash_point_is_refused(monkeypatch):
    monkeypatch.setenv(crash_points.ENV, "start.nowhere")
    with pytest.raises(ValueError, match="names no crash point"):
        crash_points.arm_from_env()


def test_arming_takes_the_point_out_of_the_environment(monkeypatch):
    monkeypatch.setenv(crash_points.ENV, "start.spawned")
    try:
        assert crash_points.arm_from_env() == "start.spawned"
        assert crash_points.ENV not in __import__("os").environ  # trials do not inherit it
    finally:
        crash_points._armed = None


def _store_without_intents(path: Path, version: int) -> None:
    """Make a store look written by schema `version` (1 or 2): no intent columns."""
    RunStore(path, create=True).close()
    conn = sqlite3.connect(path / "store.db")
    conn.execute("DROP TABLE trials")
    conn.execute("CREATE TABLE trials(id INTEGER PRIMARY KEY, state TEXT NOT NULL, origin TEXT "
                 "NOT NULL, parent_id INTEGER, clone_step INTEGER, from_checkpoint INTEGER NOT "
                 "NULL DEFAULT 0, initial_checkpoint TEXT, params TEXT NOT NULL, created_at "
                 "REAL NOT NULL, started_at REAL, ended_at REAL, pid INTEGER, pid_start REAL, "
                 "node TEXT, gpus TEXT, exit_code INTEGER, error TEXT, note TEXT NOT NULL "
                 "DEFAULT '', starred INTEGER NOT NULL DEFAULT 0, protected INTEGER NOT NULL "
                 "DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0, api_seen INTEGER NOT "
                 "NULL DEFAULT 0, checkpoint TEXT, checkpoint_step INTEGER, peak_gpu_mem_mb "
                 "REAL, tree TEXT, updated_at REAL)")
    conn.execute("INSERT INTO trials(state, origin, params, created_at) "
                 "VALUES ('running', 'manual', '{}', 0)")
    if version == 1:
        conn.execute("DROP TABLE metric_summary")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_reads_and_a_supervisor_adds_the_intent_columns(tmp_path, version):
    _store_without_intents(tmp_path, version)
    reader = RunStore(tmp_path, readonly=True)
    [old] = reader.trials()
    assert (old.state, old.launch_token, old.end_plan) == ("running", None, None)
    store = RunStore(tmp_path)
    store.prepare_for_supervisor()
    plan = EndPlan("killed", "user", "trial 1 killed", None, 1.0, 3.0)
    store.update_trial(1, launch_token="abc", end_plan=plan.to_store())
    again = store.trial(1)
    assert again.launch_token == "abc" and EndPlan.from_store(again.end_plan) == plan
    assert reader.trial(1).end_plan == plan.to_store()  # an open reader sees them too
    conn = sqlite3.connect(tmp_path / "store.db")
    # Version 1 keeps its number: its points still have no summaries.
    assert conn.execute("PRAGMA user_version").fetchone()[0] == (
        1 if version == 1 else SCHEMA_VERSION)
    assert RunStore(tmp_path).summarized is (version == 2)


def test_a_command_is_taken_once_and_answered_once(tmp_path):
    store = RunStore(tmp_path, create=True)
    cid = store.enqueue_command("note", {"trial_id": 1, "text": "x"}, "user")
    assert store.take_command(cid)
    assert not store.take_command(cid)  # a second supervisor cannot take it again
    assert store.pending_commands() == [] and [c.id for c in store.taken_commands()] == [cid]
    store.finish_command(cid, "failed", "note failed: OSError: boom")
    assert store.command(cid).status == "failed" and store.taken_commands() == []
    [event] = [e for e in store.events() if e.kind == "command_failed"]
    assert event.message == "note failed: OSError: boom" and event.data == {"command": cid}


def test_one_line_keeps_the_first_line_and_bounds_its_length():
    assert one_line(OSError("disk\nfull")) == "OSError: disk"
    assert one_line(KeyError()) == "KeyError"
    assert len(one_line(ValueError("x" * 1000))) == 300
    copy = shutil.Error([("/a/pipe", "/b/pipe", "`/a/pipe` is a named pipe"), ("c", "d", "e")])
    assert one_line(copy) == "Error: `/a/pipe` is a named pipe (and 1 more)"
