"""End to end in a real terminal: `tuitune run SPEC` inside tmux, keys sent, the
screen read back with capture-pane; quitting detaches and the trials go on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from ui_helpers import SPEC, TRIAL_SCRIPT, _kill_leftovers, from_store

from tuitune.client.run_client import RunClient
from tuitune.engine.runs import list_runs
from tuitune.store import RunStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """One tmux server of our own (its own socket), one session."""

    def __init__(self, socket: str, width: int, height: int) -> None:
        self.base = ["tmux", "-L", socket]
        self.width, self.height = width, height

    def start(self, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run([*self.base, "new-session", "-d", "-s", "e2e", "-x", str(self.width),
                        "-y", str(self.height), f"env {exports} {command}; sleep 600"],
                       check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "e2e", *keys], check=True)

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", "e2e"], check=True,
                              capture_output=True, text=True).stdout

    def wait(self, predicate, timeout: float = 40.0, what: str = "the screen") -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def _rows(text: str) -> dict[int, str]:
    """Trial table rows on screen: id -> line."""
    out = {}
    for line in text.splitlines():
        parts = line.replace("*", " ").replace("!", " ").split()
        if len(parts) > 2 and parts[0].isdigit() and parts[1] in (
                "running", "queued", "completed", "killed", "paused", "failed"):
            out[int(parts[0])] = line
    return out


def _two_random_trials(tmp_path: Path, name: str) -> Path:
    """A spec for random search over two trials, two at a time, with its script."""
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (spec_dir / "trial.py").write_text(TRIAL_SCRIPT)
    spec = SPEC.format(name=name).replace('strategy = "manual"', 'strategy = "random"')
    spec = spec.replace("max_concurrent = 16", "max_concurrent = 2\nmax_trials = 2")
    (spec_dir / "spec.toml").write_text(spec)
    return spec_dir / "spec.toml"


def _stop(run_dir: Path | None) -> None:
    """Teardown: end the experiment the test left running, and anything it left."""
    if run_dir is None:
        return
    client = RunClient(run_dir, actor="test-teardown")
    try:
        client.send("stop", {}, wait=5.0)
    finally:
        client.close()
    _kill_leftovers(run_dir, None)


def test_run_in_tmux_steer_then_detach_leaves_trials_running(tmp_path):
    home = tmp_path / "home"
    spec_file = _two_random_trials(tmp_path, "e2e")
    tmux = Tmux(f"tuitune-e2e-{os.getpid()}", 100, 30)
    tuitune = Path(sys.executable).parent / "tuitune"
    command = f"{tuitune} run {spec_file} --no-mouse"
    run_dir = None
    try:
        tmux.start(command, {"TUITUNE_HOME": str(home), "TERM": "xterm-256color"})
        text = tmux.wait(lambda t: len(_rows(t)) == 2 and all(
            "running" in line for line in _rows(t).values()), what="two running trials")
        assert "e2e" in text and "auto: random" in text
        run_dir = list_runs(home / "runs")[0]
        # star the first trial: it shows in the table and in the store
        tmux.keys("s")
        tmux.wait(lambda t: _rows(t).get(1, "").lstrip().startswith("*"), what="the star")
        # a new trial by hand, from the form prefilled from trial 1
        tmux.keys("n")
        tmux.wait(lambda t: "New trial" in t, what="the form")
        tmux.keys("Enter")
        tmux.wait(lambda t: 3 in _rows(t), what="trial 3")
        # the detail screen, then back
        tmux.keys("Enter")
        tmux.wait(lambda t: "Trial 1" in t and "Curves" in t, what="the detail screen")
        tmux.keys("b")
        tmux.wait(lambda t: 3 in _rows(t), what="the table again")
        # quit: detach
        tmux.keys("q")
        text = tmux.wait(lambda t: "detached from" in t, what="the detach message")
        assert f"tuitune attach {run_dir.name}" in text.replace("\n", "")
        store = RunStore(run_dir)
        try:
            meta = store.meta()
            trials = store.trials()
            starred = store.trial(1).starred
        finally:
            store.close()
        assert starred
        supervisor = psutil.Process(meta["supervisor_pid"])
        assert supervisor.is_running() and supervisor.status() != psutil.STATUS_ZOMBIE
        running = [t for t in trials if t.state == "running"]
        assert {t.id for t in running} >= {1, 2}
        assert all(psutil.pid_exists(t.pid) for t in running)
    finally:
        tmux.kill()
        _stop(run_dir)


def test_hangup_of_the_terminal_leaves_the_experiment_running(tmp_path):
    """A dropped SSH session: the terminal goes away and the TUI gets SIGHUP."""
    home = tmp_path / "home"
    spec_file = _two_random_trials(tmp_path, "hup")
    tmux = Tmux(f"tuitune-hup-{os.getpid()}", 100, 30)
    tuitune = Path(sys.executable).parent / "tuitune"
    run_dir = None
    try:
        tmux.start(f"{tuitune} run {spec_file} --no-mouse",
                   {"TUITUNE_HOME": str(home), "TERM": "xterm-256color"})
        tmux.wait(lambda t: len(_rows(t)) == 2 and all(
            "running" in line for line in _rows(t).values()), what="two running trials")
        run_dir = list_runs(home / "runs")[0]
        tui = [p for p in psutil.process_iter(["cmdline"])
               if p.info["cmdline"] and "run" in p.info["cmdline"]
               and str(spec_file) in p.info["cmdline"]]
        assert tui, "the TUI process"
        tmux.kill()  # the terminal is gone: the TUI gets SIGHUP
        psutil.wait_procs(tui, timeout=15)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tui)
        store = RunStore(run_dir)
        try:
            meta = store.meta()
            running = store.trials(["running"])
            before = store.count_metrics()
        finally:
            store.close()
        supervisor = psutil.Process(meta["supervisor_pid"])
        assert supervisor.is_running() and supervisor.status() != psutil.STATUS_ZOMBIE
        assert {t.id for t in running} == {1, 2}
        time.sleep(1.5)
        store = RunStore(run_dir)
        try:
            assert store.count_metrics() > before  # the trials keep reporting
        finally:
            store.close()
    finally:
        tmux.kill()
        _stop(run_dir)


def _until(read, what: str, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_manual_session_by_keyboard_alone_at_80x24(tmp_path):
    """The acceptance run of issue 13: every form filled by one burst of keys (tmux
    send-keys delivers them at once, like a laggy SSH link); the values stored are
    exactly the values typed."""
    home = tmp_path / "home"
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (spec_dir / "trial.py").write_text(TRIAL_SCRIPT)
    (spec_dir / "spec.toml").write_text(SPEC.format(name="bykeys"))
    tmux = Tmux(f"tuitune-keys-{os.getpid()}", 80, 24)
    tuitune = Path(sys.executable).parent / "tuitune"
    env = {"TUITUNE_HOME": str(home), "TERM": "xterm-256color"}
    run_dir = None
    try:
        tmux.start(f"{tuitune} run {spec_dir / 'spec.toml'} --no-mouse", env)
        tmux.wait(lambda t: "bykeys" in t and "manual" in t, what="the run screen")
        run_dir = list_runs(home / "runs")[0]

        def trial(tid: int):
            return from_store(run_dir, lambda s: s.trial(tid))

        # a new trial: the form's three fields in one burst
        tmux.keys("n", "0.07", "Tab", "9", "Tab", "adam", "Enter")
        first = _until(lambda: trial(1), "trial 1")
        assert first.params == {"lr": 0.07, "units": 9, "opt": "adam"}
        tmux.wait(lambda t: 1 in _rows(t), what="row 1")
        # clone it with units edited: Backspaces and digits in the same burst
        tmux.keys("Home", "c", "Tab", "BSpace", "BSpace", "16", "Enter")
        clone = _until(lambda: trial(2), "the clone")
        assert clone.parent_id == 1 and clone.params == {"lr": 0.07, "units": 16,
                                                         "opt": "adam"}
        # tweak trial 1 (running)
        _until(lambda: trial(1).state == "running", "trial 1 running")
        tmux.wait(lambda t: "running" in _rows(t).get(1, ""), what="trial 1 shown running")
        tmux.keys("Home", "t", "0.005", "Enter")
        asked = _until(lambda: from_store(run_dir, lambda s: s.param_changes(1)), "the tweak")
        assert [(c.name, c.value) for c in asked] == [("lr", 0.005)]
        # a note with markup-like text, typed literally
        tmux.keys("Home", "a", "[/] too [bold]fast", "Enter")
        _until(lambda: trial(1).note == "[/] too [bold]fast", "the note")
        # kill the clone: it asks first
        tmux.wait(lambda t: 2 in _rows(t), what="row 2")
        tmux.keys("End", "k")
        tmux.wait(lambda t: "Kill trial 2?" in t, what="the kill question")
        tmux.keys("y")
        _until(lambda: trial(2).state == "killed", "trial 2 killed")
        # filter by text, then clear it
        tmux.keys("/", "killed", "Enter")
        tmux.wait(lambda t: set(_rows(t)) == {2}, what="only the killed trial")
        tmux.keys("/", "C-u", "Enter")
        tmux.wait(lambda t: set(_rows(t)) == {1, 2}, what="both trials again")
        # the palette: star trial 1 by the command's name
        tmux.keys("Home", "C-p")
        tmux.wait(lambda t: "Search for commands" in t or "Star/pin" in t or ">" in t,
                  what="the palette")
        tmux.keys("Star/pin")
        tmux.wait(lambda t: "Star the trial" in t, what="the star command")
        tmux.keys("Enter")
        _until(lambda: trial(1).starred, "trial 1 starred")
        # detach, then attach again: everything is still there
        tmux.keys("q")
        tmux.wait(lambda t: "detached from" in t, what="the detach message")
        tmux.kill()
        tmux = Tmux(f"tuitune-keys2-{os.getpid()}", 80, 24)  # a new terminal
        tmux.start(f"{tuitune} attach {run_dir.name} --no-mouse", env)
        text = tmux.wait(lambda t: {1, 2} <= set(_rows(t)), what="the table after attach")
        assert _rows(text)[1].lstrip().startswith("*") and "killed" in _rows(text)[2]
        assert trial(1).state == "running" and trial(1).note == "[/] too [bold]fast"
        tmux.keys("q")
        tmux.wait(lambda t: "detached from" in t, what="detached again")
    finally:
        tmux.kill()
        _stop(run_dir)


def test_without_a_utf8_locale_the_tui_draws_ascii(tmp_path):
    """Issue 14.6: over SSH without a UTF-8 locale every bar, sparkline and braille
    chart became `_`, `q` and `x`. With LANG=C the TUI says so in one line and draws
    with ASCII only: every character on the screen is ASCII, the chart still shows."""
    home = tmp_path / "home"
    spec_file = _two_random_trials(tmp_path, "asc")
    tmux = Tmux(f"tuitune-ascii-{os.getpid()}", 100, 30)
    tuitune = Path(sys.executable).parent / "tuitune"
    run_dir = None
    try:
        tmux.start(f"{tuitune} run {spec_file} --no-mouse",
                   {"TUITUNE_HOME": str(home), "TERM": "xterm-256color", "LANG": "C",
                    "LC_ALL": "C"})
        text = tmux.wait(lambda t: "no UTF-8 locale: drawing with ASCII" in t
                         and len(_rows(t)) == 2, what="the notice and two trials")
        run_dir = list_runs(home / "runs")[0]
        text = tmux.wait(lambda t: "+----" in t and "| " in t, what="the chart's axes")
        assert text.isascii(), [c for c in text if not c.isascii()][:10]
        assert "auto: random" in text and "o no supervisor" not in text
        tmux.keys("Enter")  # the detail screen's chart: ASCII too
        text = tmux.wait(lambda t: "1 Curves" in t and "- loss" in t, what="the curves")
        assert text.isascii(), [c for c in text if not c.isascii()][:10]
        tmux.keys("b", "q")
        tmux.wait(lambda t: "detached from" in t, what="the detach message")
    finally:
        tmux.kill()
        _stop(run_dir)
