"""The node side of the Ray executor without a cluster: the trial's relay sink, the
TrialRunner that reads it (driven directly, in this process), and the watchdog.

These need no Ray and run everywhere; the cluster tests are in test_ray_executor.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.support.extras import NO_RAY
from tests.support.specs import STEPPER
from tuitune.executors.ray_node import TrialRunner, pack_path, unpack_to
from tuitune.in_trial.ray_sink import RaySink, list_segments, read_control
from tuitune.in_trial.sink import make_sink


def collect(runner: TrialRunner, timeout: float = 30.0, ack: bool = True):
    """Pull until the trial ended and everything it wrote was handed out."""
    cursor = None
    got = {"points": [], "checkpoints": [], "acks": [], "dropped": 0, "log": b""}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = runner.pull(cursor if ack else None, wait=0.2)
        for key in ("points", "checkpoints", "acks"):
            got[key] += answer[key]
        got["dropped"] += answer["dropped"]
        got["log"] += answer["log"]
        cursor = answer["cursor"]
        if answer["exit"] is not None:
            got["exit"] = answer["exit"]
            return got
    raise AssertionError("the trial did not end")


@pytest.fixture
def runner(tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent(STEPPER))
    made: list[TrialRunner] = []

    def make(params: dict, trial_id: int = 3) -> TrialRunner:
        r = TrialRunner(trial_id, str(tmp_path / f"node-{trial_id}"))
        r.start([sys.executable, "script.py"], str(tmp_path),
                {"TUITUNE_TRIAL_ID": str(trial_id), "TUITUNE_PARAMS": json.dumps(params),
                 "TUITUNE_RUN_DIR": str(tmp_path)}, drop=["TUITUNE_STORE"],
                python=sys.executable)
        made.append(r)
        return r

    yield make
    for r in made:
        r.release()


def test_reports_checkpoints_log_and_exit_come_through_the_relay(runner, tmp_path):
    r = runner({"lr": 0.1, "steps": 15})
    got = collect(r)
    assert got["exit"] == (0, None)
    steps = sorted(p[0] for p in got["points"] if p[1] == "loss")
    assert steps == list(range(1, 16))  # every point, once
    path, step = got["checkpoints"][-1]
    assert step == 15 and Path(path).read_text() == "15"
    assert Path(path).is_relative_to(tmp_path / "node-3")  # the node's trial folder
    assert b"step 15" in got["log"]
    r.release()
    assert not (tmp_path / "node-3").exists()


def test_tweaks_and_stop_requests_reach_the_trial(runner):
    r = runner({"lr": 0.1, "steps": 400, "sleep": 0.02})
    r.set_control(1, False, [(7, "lr", 0.5)])
    r.set_control(0, True, [])  # older version arriving late: ignored
    deadline = time.monotonic() + 20
    acks, points, cursor = [], [], None
    while not acks and time.monotonic() < deadline:
        a = r.pull(cursor, wait=0.2)
        acks += a["acks"]
        points += a["points"]
        cursor = a["cursor"]
    assert acks and acks[0][0] == [7]
    r.set_control(2, True, [])  # stop requested
    got = collect(r)
    assert got["exit"] == (0, None)
    last = max(p[0] for p in points + got["points"])
    assert last < 400  # it stopped early
    assert all(p[2] == 0.5 for p in got["points"] if p[1] == "lr")


def test_unacknowledged_reports_are_sent_again(runner):
    """A supervisor that died between a pull and storing it loses nothing."""
    r = runner({"steps": 10})
    first = collect(r, ack=False)  # never acknowledges: every answer starts over
    again = r.pull(None, wait=0)
    assert sorted(again["points"]) == sorted(p for p in again["points"])
    assert {p[0] for p in again["points"] if p[1] == "loss"} == set(range(1, 11))
    assert first["exit"] == (0, None)


def test_kill_ends_the_whole_group_and_release_cleans_up(runner, tmp_path):
    r = runner({"steps": 100000, "sleep": 0.05})
    info = r.info()
    launcher = psutil.Process(info["pid"])
    deadline = time.monotonic() + 15
    while not launcher.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    procs = [launcher, *launcher.children(recursive=True)]
    r.signal("pause")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
            p.status() == psutil.STATUS_STOPPED for p in procs[1:]):
        time.sleep(0.05)
    assert all(p.status() == psutil.STATUS_STOPPED for p in procs[1:])
    r.signal("kill")
    got = collect(r)  # (the launcher is our child here: its status is the runner's to reap)
    assert got["exit"] == (None, signal.SIGKILL)
    time.sleep(0.2)
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_watchdog_ends_the_trial_when_its_actor_dies(tmp_path):
    """Stand-in for an actor: a process that starts a trial, then is SIGKILLed."""
    (tmp_path / "script.py").write_text(textwrap.dedent(STEPPER))
    code = textwrap.dedent(f"""
        import json, sys, time
        from tuitune.executors.ray_node import TrialRunner
        r = TrialRunner(1, {str(tmp_path / 'node')!r})
        info = r.start([sys.executable, "script.py"], {str(tmp_path)!r},
                       {{"TUITUNE_TRIAL_ID": "1", "TUITUNE_PARAMS": '{{"steps": 100000}}'}},
                       python=sys.executable)
        print(info["pid"], flush=True)
        time.sleep(600)
    """)
    actor = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(actor.stdout.readline())
    launcher = psutil.Process(pid)
    deadline = time.monotonic() + 15
    while not launcher.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    tree = [launcher, *launcher.children(recursive=True)]
    assert len(tree) >= 2
    actor.kill()
    actor.wait()
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, alive


def test_relay_buffer_is_bounded_and_says_so(tmp_path, capfd):
    sink = RaySink(str(tmp_path / "relay"), 1, limit_mb=0.05, flush_interval=3600)
    for step in range(3000):  # far more than 50 kB of points
        sink.write_points([(step, "loss", 0.5, 1.0)])
        if step % 100 == 0:
            sink.flush()
    sink.flush()
    size = sum((tmp_path / "relay" / n).stat().st_size for n in os.listdir(tmp_path / "relay"))
    assert size < 0.05 * (1 << 20) + 20_000
    assert "relay buffer on this node is full" in capfd.readouterr().err
    # Once the reader catches up (segments gone), the count of dropped points comes too.
    for name in os.listdir(tmp_path / "relay"):
        os.unlink(tmp_path / "relay" / name)
    sink.write_points([(9999, "loss", 0.1, 2.0)])
    sink.flush()
    (seg,) = list_segments(tmp_path / "relay")
    lines = [json.loads(x) for x in (tmp_path / "relay").glob("seg-*").__next__().read_text()
             .splitlines()]
    assert lines[0]["d"] > 0 and lines[1]["p"] == [[9999, "loss", 0.1, 2.0]]


def test_a_relay_write_that_fails_is_retried_first_and_nothing_is_lost(tmp_path, capfd):
    relay = tmp_path / "relay"
    sink = RaySink(str(relay), 1, flush_interval=0.01)
    try:
        relay.rename(tmp_path / "away")
        relay.write_text("not a folder")  # every append fails (even as root)
        sink.write_points([(1, "loss", 0.5, 1.0)])
        sink.set_checkpoint("ckpt-1", 1)
        deadline = time.monotonic() + 20
        while "could not write reports to the relay yet" not in capfd.readouterr().err:
            assert time.monotonic() < deadline, "the writer thread never said it failed"
            time.sleep(0.05)
        sink.set_checkpoint("ckpt-2", 2)  # reported while the relay cannot be written
        relay.unlink()
        (tmp_path / "away").rename(relay)
    finally:
        sink.close()
    lines = [json.loads(x) for seg in sorted(relay.glob("seg-*")) for x in
             seg.read_text().splitlines()]
    assert lines == [{"p": [[1, "loss", 0.5, 1.0]]}, {"c": ["ckpt-1", 1]}, {"c": ["ckpt-2", 2]}]


def test_segments_rotate_and_are_deleted_once_stored(tmp_path, monkeypatch):
    import tuitune.in_trial.ray_sink as rs

    monkeypatch.setattr(rs, "SEGMENT_BYTES", 2000)
    r = TrialRunner(1, str(tmp_path / "node"))
    r.relay.mkdir(parents=True)
    sink = RaySink(str(r.relay), 1, flush_interval=3600)
    for step in range(400):
        sink.write_points([(step, "loss", 0.25, 1.0)])
        if step % 20 == 0:
            sink.flush()
    sink.flush()
    assert len(list_segments(r.relay)) > 3
    cursor, steps = None, []
    for _ in range(200):
        a = r.pull(cursor, wait=0, max_bytes=1500)
        steps += [p[0] for p in a["points"]]
        cursor = a["cursor"]
        if not a["more"] and len(steps) == 400:
            break
    r.pull(cursor, wait=0)
    assert steps == list(range(400))
    assert len(list_segments(r.relay)) == 1  # only the one still written to


def test_poll_control_hides_tweaks_already_applied(tmp_path):
    sink = RaySink(str(tmp_path), 1, flush_interval=3600)
    from tuitune.in_trial.ray_sink import write_control

    write_control(tmp_path, False, [(1, "lr", 0.1), (2, "momentum", 0.9)])
    assert read_control(tmp_path)[1] == [(1, "lr", 0.1), (2, "momentum", 0.9)]
    sink.ack_changes([1], 5)
    assert sink.poll_control() == (False, [(2, "momentum", 0.9)])


def test_make_sink_picks_the_relay_from_the_environment(tmp_path):
    sink = make_sink({"TUITUNE_SINK": "ray", "TUITUNE_RELAY": str(tmp_path / "r"),
                      "TUITUNE_TRIAL_ID": "4"})
    assert isinstance(sink, RaySink)


def test_checkpoint_archives_round_trip_and_stay_inside(tmp_path):
    src = tmp_path / "ckpt"
    (src / "sub").mkdir(parents=True)
    (src / "w.npz").write_bytes(b"abc")
    (src / "sub" / "opt.bin").write_bytes(b"x" * 1000)
    unpack_to(pack_path(src), tmp_path / "out")
    assert (tmp_path / "out/ckpt/w.npz").read_bytes() == b"abc"
    assert (tmp_path / "out/ckpt/sub/opt.bin").stat().st_size == 1000
    unpack_to(pack_path(src / "w.npz"), tmp_path / "single")
    assert (tmp_path / "single/w.npz").read_bytes() == b"abc"


def test_the_core_never_imports_ray():
    code = ("import sys, tuitune.engine.supervisor, tuitune.executors, tuitune.in_trial.sink, "
            "tuitune.in_trial.trial, tuitune.in_trial.ray_sink, tuitune.executors.ray_node\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_executor_options_are_named():
    pytest.importorskip("ray", reason=NO_RAY)
    from tuitune.executors.ray_executor import RayExecutor

    with pytest.raises(ValueError, match="unknown .*option.*adress"):
        RayExecutor(adress="x")


def test_a_relay_write_cut_short_leaves_no_half_record_and_is_retried_once(
        tmp_path, monkeypatch):
    """A disk that fills mid-append: the part written is taken back, and the retry
    writes every record once, whole."""
    import errno

    relay = tmp_path / "relay"
    sink = RaySink(str(relay), 1, flush_interval=3600)
    real_write = os.write
    state = {"cut": False, "done": False}

    def write_then_fill_up(fd, data):
        if not state["done"] and state["cut"]:  # the rest of the cut-short batch
            state["done"] = True
            raise OSError(errno.ENOSPC, "No space left on device")
        if not state["cut"] and bytes(data[:5]) == b'{"p":':
            state["cut"] = True
            return real_write(fd, bytes(data[: len(data) // 2]))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write_then_fill_up)
    try:
        sink.write_points([(step, "loss", 1.0 / step, 1.0) for step in range(1, 51)])
        sink.set_checkpoint("ckpt-50", 50)
        with pytest.raises(OSError, match="No space left"):
            sink.flush()
        sink.flush()
    finally:
        monkeypatch.undo()
        sink.close()
    records = [json.loads(line) for seg in sorted(relay.glob("seg-*"))
               for line in seg.read_text().splitlines()]
    assert [r["p"][0][0] for r in records if "p" in r] == [1]
    assert len([r for r in records if "p" in r][0]["p"]) == 50
    assert [r["c"] for r in records if "c" in r] == [["ckpt-50", 50]]
