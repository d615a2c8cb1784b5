"""`[notify] bell` and `osc` in a real terminal: the TUI runs in tmux, and what it
writes to the pane (tmux pipe-pane, the bytes the terminal gets) holds the bell and
the OSC 9 / OSC 777 sequences for the chosen events, once per poll with such events."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import cli
from tests.support.specs import write_spec
from tuitune.engine.runs import list_runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TUITUNE = Path(sys.executable).parent / "tuitune"


def test_bell_and_osc_reach_the_terminal(tmp_path):
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.3, strategy="random", concurrent=1,
                      budget="max_trials = 2")
    spec.write_text(spec.read_text() + '\n[notify]\non = ["completed"]\nbell = true\n'
                    'osc = true\n')
    raw = tmp_path / "pane.bytes"
    tmux = ["tmux", "-L", f"tuitune-alerts-{os.getpid()}"]  # a server of our own
    run_dir = None
    try:
        env = f"TUITUNE_HOME={home} PYTHONPATH={os.environ.get('PYTHONPATH', '')}"
        # The pane starts with a shell that waits a moment, so the pipe below is in
        # place before the TUI writes its first byte.
        subprocess.run([*tmux, "new-session", "-d", "-s", "alerts", "-x", "100", "-y", "30",
                        f"sleep 1; env {env} {TUITUNE} run {spec}; sleep 600"], check=True)
        # Every byte the program writes to the terminal, as the terminal gets it.
        subprocess.run([*tmux, "pipe-pane", "-o", "-t", "alerts", f"cat >> {raw}"],
                       check=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            data = raw.read_bytes() if raw.exists() else b""
            if data.count(b"\x1b]9;tuitune: trial ") >= 2:
                break
            time.sleep(0.5)
        runs = list_runs(home / "runs")
        run_dir = runs[0] if runs else None
        data = raw.read_bytes()
        osc9 = [part.split(b"\x07")[0] for part in data.split(b"\x1b]9;")[1:]]
        assert osc9 and all(b"completed" in m for m in osc9), osc9
        assert b"\x1b]777;notify;tuitune;trial 1 completed\x07" in data
        assert b"\x07\x1b]9;" in data  # the bell, just before each notification
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        if run_dir is not None:
            cli("stop", str(run_dir))
