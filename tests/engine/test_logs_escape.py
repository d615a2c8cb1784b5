"""`tuitune logs` shows a trial's output as text: escape sequences it printed (an OSC 52
clipboard write, a title change) are escaped unless --raw is asked for (issue 12.13);
`events` (and the headless follower), which quote a failed trial's last lines, too."""

from __future__ import annotations

from tests.support.processes import cli
from tests.support.store_reads import trial

from .bad_input import one_trial_spec

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # would set the clipboard to "rm -rf ~"
TITLE = "\x1b]0;owned\x07"

SCRIPT = f"""
import sys
sys.stdout.write("before " + {OSC52!r} + " after\\n")
sys.stdout.write({TITLE!r} + "\\ttabbed\\r\\n")
sys.stdout.write("bell\\x07 del\\x7f csi\\x9b done\\n")
sys.exit("failed: " + {OSC52!r})  # the failure's last lines reach events and status
"""

SPEC = one_trial_spec(name="esc", command='["{python}", "script.py"]')


def test_logs_escape_control_sequences_unless_raw(tmp_path, tt_home):
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "esc.toml").write_text(SPEC)
    ran = cli("run", str(tmp_path / "esc.toml"), "--headless", timeout=120)
    assert ran.returncode == 0, ran.stderr
    run_dir = next((tt_home / "runs").iterdir())
    assert trial(run_dir, 1).state == "failed"

    shown = cli("logs", run_dir.name, "1")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for raw in ("\x1b", "\x07", "\x7f", "\x9b", "\r"):
        assert raw not in out, (raw, out)
    assert "before \\x1b]52;c;cm0gLXJmIH4=\\x07 after" in out
    assert "\\x1b]0;owned\\x07\ttabbed" in out  # the tab is kept, the \r dropped
    assert "bell\\x07 del\\x7f csi\\x9b done" in out

    raw = cli("logs", run_dir.name, "1", "--raw")
    assert raw.returncode == 0 and OSC52 in raw.stdout and TITLE in raw.stdout


def test_status_and_events_escape_what_a_failed_trial_printed(tmp_path, tt_home):
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "esc.toml").write_text(SPEC)
    ran = cli("run", str(tmp_path / "esc.toml"), "--headless", timeout=120)
    assert "\x1b" not in ran.stdout, ran.stdout  # the follower prints events too
    run_dir = next((tt_home / "runs").iterdir())
    status = cli("status", run_dir.name)
    assert status.returncode == 0 and "\x1b" not in status.stdout, status.stdout
    events = cli("events", run_dir.name)  # the failure event quotes the last lines
    assert events.returncode == 0, events.stderr
    assert "\x1b" not in events.stdout and "\\x1b]52;c;" in events.stdout, events.stdout
