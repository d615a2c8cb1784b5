"""The fix to Textual's partial updates (tuitune/ui/_textual_patch.py) holds on the
Textual in use: the method it replaces still has the shape it was written for, the
app installs it, and a real pseudo-terminal receives fewer bytes with it than without.

Pilot runs headless (nothing is written to a terminal), so only a real terminal can
show what the patch saves.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import pytest
import textual
from textual._compositor import ChopsUpdate
from ui_helpers import new_trial, wait_state

# The source of the method the patch replaces, as read and rewritten for Textual 8.2.
# A different hash means Textual changed it: re-read the new one against
# `_render_segments`, port the change, then update the hash.
ORIGINAL_SHA256 = "d6ddb7d34a6c23ec3b838ae320f471f1062c52c135034ff1f6a11709c5bc3a34"

COLS, ROWS = 200, 50


def test_the_patched_method_has_the_shape_the_patch_was_written_for():
    """Fails loudly on a Textual whose ChopsUpdate changed: `install()` itself only
    declines quietly (the app must start on any Textual 8)."""
    code = textwrap.dedent("""
        import hashlib, inspect, json, textwrap
        from textual._compositor import ChopsUpdate
        m = ChopsUpdate.render_segments
        print(json.dumps({
            "signature": str(inspect.signature(m)),
            "init": list(inspect.signature(ChopsUpdate.__init__).parameters),
            "names": sorted(m.__code__.co_names),
            "sha256": hashlib.sha256(textwrap.dedent(inspect.getsource(m)).encode()).hexdigest(),
        }))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shape = json.loads(out.stdout)
    where = f"textual {textual.__version__}: ChopsUpdate.render_segments"
    assert shape["signature"] == "(self, console: 'Console') -> 'str'", where
    assert shape["init"] == ["self", "chops", "spans", "chop_ends"], where
    # What the replacement reads from the update and from Textual.
    assert {"chops", "chop_ends", "spans", "crop", "render"} <= set(shape["names"]), where
    assert shape["sha256"] == ORIGINAL_SHA256, (
        f"{where} changed: compare it with tuitune/ui/_textual_patch.py's _render_segments, "
        "port the change, then update ORIGINAL_SHA256")


def test_the_app_installs_the_patch_and_the_switch_turns_it_off(fixed_run):
    code = textwrap.dedent("""
        import asyncio, sys
        from pathlib import Path
        from textual._compositor import ChopsUpdate
        from tuitune.system import FakeGpuSource
        from tuitune.ui._textual_patch import _render_segments
        from tuitune.ui.factory import build_app

        async def main():
            before = ChopsUpdate.render_segments is _render_segments
            app = build_app(Path(sys.argv[1]), gpu_source=FakeGpuSource(1),
                            poll_interval=60.0, system_interval=60.0)
            async with app.run_test(size=(120, 30)) as pilot:
                await pilot.pause()
                print(before, ChopsUpdate.render_segments is _render_segments)

        asyncio.run(main())
    """)

    def start(switch: str | None) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if k != "TUITUNE_TEXTUAL_PATCH"}
        if switch is not None:
            env["TUITUNE_TEXTUAL_PATCH"] = switch
        return subprocess.Popen([sys.executable, "-c", code, str(fixed_run)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    runs = {switch: start(switch) for switch in (None, "0")}  # side by side: half the wait
    printed = {}
    for switch, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        printed[switch] = out.strip().splitlines()[-1]
    assert printed[None] == "False True"  # not on import: when the app starts
    assert printed["0"] == "False False"


APP = """\
import sys
from pathlib import Path
from tuitune.system import FakeGpuSource
from tuitune.ui.factory import build_app
build_app(Path(sys.argv[1]), gpu_source=FakeGpuSource(2)).run(mouse=False)
"""


class TerminalApp:
    """The TUI as its own process in a pseudo-terminal of COLS x ROWS; a thread reads
    (and counts) every byte it writes, as an SSH link would carry them."""

    def __init__(self, run_dir: Path, patch: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
                   TUITUNE_TEXTUAL_PATCH=patch)
        self.proc = subprocess.Popen([sys.executable, "-c", APP, str(run_dir)], stdin=slave,
                                     stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.bytes = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._done.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # the app's side closed
                return
            if not data:
                return
            with self._lock:
                self.bytes += len(data)

    def counted(self) -> int:
        with self._lock:
            return self.bytes

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._done.set()
        self._thread.join(timeout=2)
        os.close(self.master)


@pytest.mark.slow
def test_the_patch_cuts_the_bytes_written_to_a_real_terminal(fresh_live_run):
    """Two TUIs on the same live run at the same time, one with the patch switched
    off: the same screen changes, so their byte counts compare as a ratio."""
    run_dir = fresh_live_run.run_dir
    for trial_id in [new_trial(run_dir, lr=0.001 * (i + 1)) for i in range(6)]:
        wait_state(run_dir, trial_id, {"running"})
    apps = {patch: TerminalApp(run_dir, patch) for patch in ("1", "0")}
    try:
        deadline = time.monotonic() + 60
        while min(a.counted() for a in apps.values()) < 20_000:  # both drew the screen
            assert time.monotonic() < deadline, {p: a.counted() for p, a in apps.items()}
            assert all(a.proc.poll() is None for a in apps.values()), "a TUI exited"
            time.sleep(0.2)
        time.sleep(3)  # past the first full paints
        start = {patch: app.counted() for patch, app in apps.items()}
        time.sleep(8)
        sent = {patch: app.counted() - start[patch] for patch, app in apps.items()}
        assert all(a.proc.poll() is None for a in apps.values()), "a TUI exited"
    finally:
        for app in apps.values():
            app.close()
    print(f"bytes in 8 s at {COLS}x{ROWS}, 6 trials: {sent}")
    assert sent["0"] > 5_000, sent  # the screen did change while we counted
    assert sent["1"] * 2 < sent["0"], f"bytes with the patch vs without: {sent}"
