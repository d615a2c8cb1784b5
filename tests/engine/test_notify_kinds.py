"""Every kind of event `[notify] on` names reaches the notify command once, with the
event as JSON: a real supervisor, store and command (a recorder program) over fake
trials; the commands sent by the CLI in this process. tests/engine/test_notify.py has
the real-process tests (divergence, a burst, a stall, failing commands)."""

from __future__ import annotations

import json
import sys

from tests.support.fake_runs import live_fake_run
from tests.support.store_reads import events, read
from tests.support.waiting import wait_for
from tuitune.executors.fake import FakeTrial, ScriptRun

from .bad_input import run_cli
from .test_notify import RECORDER


def _trial(t: FakeTrial) -> ScriptRun:
    """units=1: three steps, then done; units=9: silent until ended; else reports on."""
    lr, units = float(t.params["lr"]), int(t.params["units"])
    step = 0
    while True:
        step += 1
        lr = float(t.apply_tweaks(step).get("lr", lr))
        if units != 9:
            t.report(step, loss=1.0 / (step * lr + 1.0), lr=lr)
        if units == 1 and step >= 3:
            return 0
        if t.should_stop():
            return 0
        yield


def _state(run_dir, tid):
    return read(run_dir, lambda s: s.trial(tid).state)


def test_each_chosen_kind_is_told_once(tt_home, tmp_path):
    recorder, out = tmp_path / "recorder.py", tmp_path / "told.jsonl"
    recorder.write_text(RECORDER)
    notify = (f'\n[notify]\non = ["completed", "killed", "timed_out", "tweak_applied", '
              f'"stopped"]\ncommand = [{json.dumps(sys.executable)}, '
              f'{json.dumps(str(recorder))}, {json.dumps(str(out))}]\nburst = 20\n')
    with live_fake_run(tmp_path, _trial, tt_home, concurrent=4, extra=notify) as run_dir:
        run = str(run_dir)
        for units in (1, 5):
            assert run_cli(["new", run, "lr=0.1", f"units={units}"])[0] == 0
        wait_for(lambda: _state(run_dir, 1) == "completed", 30, "trial 1 to complete")
        assert run_cli(["tweak", run, "2", "lr=0.5"])[0] == 0
        wait_for(lambda: events(run_dir, "tweak_applied"), 30, "the tweak applied")
        assert run_cli(["kill", run, "2"])[0] == 0
        wait_for(lambda: _state(run_dir, 2) == "killed", 30, "trial 2 killed")
        assert run_cli(["new", run, "lr=0.1", "units=9"])[0] == 0
        wait_for(lambda: _state(run_dir, 3) == "running", 30, "trial 3 running")
        code, _, err = run_cli(["budget", run, "--trial-timeout", "3s"])
        assert code == 0, err
        wait_for(lambda: _state(run_dir, 3) == "timed_out", 30, "trial 3 timed out")
        assert run_cli(["stop", run])[0] == 0
        wait_for(lambda: events(run_dir, "finished"), 30, "the run's end")
    told = wait_for(lambda: len(out.read_text().splitlines()) >= 5 and [
        json.loads(line) for line in out.read_text().splitlines()], 30, "five notifications")
    kinds = sorted((t["kind"], t["trial_id"]) for t in told)
    assert kinds == sorted([("completed", 1), ("tweak_applied", 2), ("killed", 2),
                            ("timed_out", 3), ("stopped", None)]), kinds
    for t in told:
        stored = next(e for e in events(run_dir) if e.id == t["id"])
        assert t["message"] == stored.message and t["run"] == run_dir.name
    assert not events(run_dir, "notify_failed")
