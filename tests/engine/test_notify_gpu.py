"""`[notify]` "gpu_idle" through a real supervisor: its GPU placement samples the fake
NVML source (tuitune/system/fake.py, no GPU here), the notifications part finds the GPUs
of running trials, records the event, and the notify command (a recorder program) gets
it as JSON on its standard input. The run's clock is the test's (tests/support/fake_runs.py);
test_notify_watch.py checks the watch's rule alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support.fake_runs import FakeRun, fake_run, hang
from tuitune.engine.supervisor import TICK
from tuitune.system import FakeGpuSource

from .test_notify import RECORDER

IDLE_AFTER = 2.0  # seconds of the run's time


def _run(tmp_path: Path, source: FakeGpuSource) -> tuple[FakeRun, Path]:
    recorder, out = tmp_path / "recorder.py", tmp_path / "told.jsonl"
    recorder.write_text(RECORDER)
    extra = ("\n[resources]\ngpus_per_trial = 1\n"
             f'\n[notify]\non = ["gpu_idle"]\ncommand = [{json.dumps(sys.executable)}, '
             f"{json.dumps(str(recorder))}, {json.dumps(str(out))}]\n"
             f'gpu_idle_after = "{IDLE_AFTER:g}s"\n'
             'timeout = "1h"\n')  # the run's clock races ahead of the real command
    run = fake_run(tmp_path, hang(), gpu_source=source, concurrent=1, extra=extra)
    run.store.enqueue_command("new", {"params": run.sup.spec.space.defaults()}, "user")
    run.until(lambda: run.store.trial(1).state == "running", "trial 1 running")
    assert run.store.trial(1).gpus == "0"
    return run, out


def _told(run: FakeRun, out: Path) -> list[dict]:
    """What the command was given, once every notification due has run."""
    run.sup.notifications.finish(run.clock())
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _idle_events(run: FakeRun) -> list:
    return [e for e in run.store.events() if e.kind == "gpu_idle"]


def test_an_idle_gpu_under_a_running_trial_is_told_once(tmp_path):
    source = FakeGpuSource(1)
    source.set_util(0, 0.0)
    run, out = _run(tmp_path, source)
    try:
        run.until(lambda: _idle_events(run), "the gpu_idle event")
        run.tick(int(5 * IDLE_AFTER / TICK))  # idle on: the same episode, not said again
        told = _told(run, out)
        assert [(t["kind"], t["data"]["gpu"], t["data"]["trials"]) for t in told] == [
            ("gpu_idle", 0, [1])], told
        [event] = _idle_events(run)
        assert told[0]["id"] == event.id and told[0]["run"] == run.run_dir.name
        assert "GPU 0 idle" in event.message and "trial 1" in event.message
        assert told[0]["data"]["idle_s"] >= IDLE_AFTER
        assert not [e for e in run.store.events() if e.kind == "notify_failed"]
    finally:
        run.finish()


def test_a_busy_gpu_is_not_told_until_it_goes_idle(tmp_path):
    source = FakeGpuSource(1)
    source.set_util(0, 90.0)
    run, out = _run(tmp_path, source)
    try:
        run.tick(int(5 * IDLE_AFTER / TICK))
        assert _idle_events(run) == [] and _told(run, out) == []
        source.set_util(0, 0.0)  # the next GPU sample sees it: told, so "none" above meant busy
        run.until(lambda: _idle_events(run), "the gpu_idle event")
        assert [(t["kind"], t["data"]["gpu"]) for t in _told(run, out)] == [("gpu_idle", 0)]
    finally:
        run.finish()
