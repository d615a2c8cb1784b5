"""`tuitune run SPEC --headless` in a real terminal (tmux): the terminal going away or a
Ctrl-C ends only the follower; the detached supervisor finishes every trial by itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_ui_tmux_e2e import Tmux, _stop, _two_random_trials

from tuitune.engine.runs import list_runs
from tuitune.store import RunStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TUITUNE = Path(sys.executable).parent / "tuitune"


def _meta_and_states(run_dir: Path) -> tuple[dict, dict[int, str]]:
    store = RunStore(run_dir)
    try:
        return store.meta(), {t.id: t.state for t in store.trials()}
    finally:
        store.close()


def _status(run_dir: Path, home: Path) -> str:
    return subprocess.run([str(TUITUNE), "status", str(run_dir)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "TUITUNE_HOME": str(home)}
                          ).stdout


def _wait_finished(run_dir: Path, home: Path, timeout: float = 120.0) -> dict[int, str]:
    """Poll `tuitune status` (as a user would) until the run says it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta, states = _meta_and_states(run_dir)
        if meta.get("state") == "finished":
            return states
        time.sleep(0.5)
    raise AssertionError(f"the run never finished:\n{_status(run_dir, home)}")


def _follower(spec_file: Path) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and "--headless" in p.info["cmdline"]
            and str(spec_file) in p.info["cmdline"]]


def _headless_in_tmux(tmp_path: Path, name: str) -> tuple[Tmux, Path, Path, Path]:
    home = tmp_path / "home"
    spec_file = _two_random_trials(tmp_path, name)
    # four trials of about 6 s, two at a time: the run outlasts the terminal
    spec_file.write_text(spec_file.read_text().replace("max_trials = 2", "max_trials = 4")
                         .replace("max_steps = 600", "max_steps = 60"))
    (spec_file.parent / "trial.py").write_text(
        (spec_file.parent / "trial.py").read_text().replace('p.get("steps", 600)',
                                                             'p.get("steps", 60)'))
    tmux = Tmux(f"tuitune-{name}-{os.getpid()}", 80, 24)
    tmux.start(f"{TUITUNE} run {spec_file} --headless",
               {"TUITUNE_HOME": str(home), "TERM": "xterm-256color"})
    tmux.wait(lambda t: "trial 1 started" in t, what="the follower printing events")
    (run_dir,) = list_runs(home / "runs")
    return tmux, home, spec_file, run_dir


def test_killing_the_tmux_session_of_a_headless_run_leaves_it_to_finish(tmp_path):
    tmux = run_dir = None
    try:
        tmux, home, spec_file, run_dir = _headless_in_tmux(tmp_path, "hlkill")
        follower = _follower(spec_file)
        assert follower, "the follower process"
        subprocess.run([*tmux.base, "kill-session", "-t", "e2e"], check=True)  # the pty goes
        psutil.wait_procs(follower, timeout=15)
        meta, states = _meta_and_states(run_dir)
        assert meta.get("state") == "running" and "completed" not in states.values()
        states = _wait_finished(run_dir, home)
        assert states == {1: "completed", 2: "completed", 3: "completed", 4: "completed"}
        assert "4 completed" in _status(run_dir, home)
    finally:
        if tmux is not None:
            tmux.kill()
        _stop(run_dir)


def test_ctrl_c_in_the_terminal_stops_only_the_follower(tmp_path):
    tmux = run_dir = None
    try:
        tmux, home, spec_file, run_dir = _headless_in_tmux(tmp_path, "hlint")
        assert _follower(spec_file), "the follower process"
        tmux.keys("C-c")
        text = tmux.wait(lambda t: "stopped following" in t, what="the stop-following line")
        assert f"tuitune follow {run_dir.name}" in text.replace("\n", "")
        _, alive = psutil.wait_procs(_follower(spec_file), timeout=15)
        assert not alive
        states = _wait_finished(run_dir, home)
        assert states == {1: "completed", 2: "completed", 3: "completed", 4: "completed"}
    finally:
        if tmux is not None:
            tmux.kill()
        _stop(run_dir)


def test_attach_starts_the_supervisor_of_a_run_whose_supervisor_died(tmp_path):
    """`tuitune attach --help` promises it: the TUI opens on a live run again."""
    tmux = run_dir = None
    try:
        tmux, home, spec_file, run_dir = _headless_in_tmux(tmp_path, "hlattach")
        meta, _ = _meta_and_states(run_dir)
        old = psutil.Process(meta["supervisor_pid"])
        tmux.kill()
        old.kill()  # the supervisor dies too (a crash, a reboot of it)
        old.wait(timeout=15)
        tmux = Tmux(f"tuitune-hlattach2-{os.getpid()}", 100, 30)
        tmux.start(f"{TUITUNE} attach {run_dir.name} --no-mouse",
                   {"TUITUNE_HOME": str(home), "TERM": "xterm-256color"})
        tmux.wait(lambda t: "● live" in t, what="the TUI on a live run")
        meta, _ = _meta_and_states(run_dir)
        assert meta["supervisor_pid"] != old.pid
        assert psutil.Process(meta["supervisor_pid"]).is_running()
        states = _wait_finished(run_dir, home)  # and it carries the run to its end
        assert states == {1: "completed", 2: "completed", 3: "completed", 4: "completed"}
    finally:
        if tmux is not None:
            tmux.kill()
        _stop(run_dir)
