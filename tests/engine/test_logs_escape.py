"""`tuitune logs` shows a trial's output as text: escape sequences it printed (an OSC 52
clipboard write, a title change) are escaped unless --raw is asked for (issue 12.13);
`events` (and the headless follower), which quote a failed trial's last lines, too.
The trial is fake (its output is what matters, not its process); the CLI's own code
runs in this process (what it writes is what matters, not the interpreter's start)."""

from __future__ import annotations

from tests.support.fake_runs import FakeTrial, fake_run
from tests.support.store_reads import trial

from .bad_input import run_cli

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # would set the clipboard to "rm -rf ~"
TITLE = "\x1b]0;owned\x07"

def escaper(t: FakeTrial):
    """Prints escape sequences, then fails with one (as `sys.exit("failed: ...")`
    prints its message last): the failure's last lines reach events and status."""
    t.print("before " + OSC52 + " after")
    t.print(TITLE + "\ttabbed\r")
    t.print("bell\x07 del\x7f csi\x9b done")
    yield
    t.print("failed: " + OSC52)
    return 1


def _failed_run(tmp_path, home):
    """The run of one trial that printed escapes and failed (fake trial, real engine,
    run in this process); its folder."""
    run = fake_run(tmp_path, escaper, home, strategy="random", budget="max_trials = 1")
    run.until(lambda: run.sup.finished, "the run to finish")
    run.sup.close()
    return run.run_dir


def test_logs_escape_control_sequences_unless_raw(tmp_path, tt_home):
    run_dir = _failed_run(tmp_path, tt_home)
    assert trial(run_dir, 1).state == "failed"

    code, out, err = run_cli(["logs", run_dir.name, "1"])
    assert code == 0, err
    for raw in ("\x1b", "\x07", "\x7f", "\x9b", "\r"):
        assert raw not in out, (raw, out)
    assert "before \\x1b]52;c;cm0gLXJmIH4=\\x07 after" in out
    assert "\\x1b]0;owned\\x07\ttabbed" in out  # the tab is kept, the \r dropped
    assert "bell\\x07 del\\x7f csi\\x9b done" in out

    code, raw, _ = run_cli(["logs", run_dir.name, "1", "--raw"])
    assert code == 0 and OSC52 in raw and TITLE in raw


def test_status_and_events_escape_what_a_failed_trial_printed(tmp_path, tt_home):
    run_dir = _failed_run(tmp_path, tt_home)
    _, followed, _ = run_cli(["follow", run_dir.name])  # the headless follower, ended run
    assert "\x1b" not in followed and "\\x1b]52;c;" in followed, followed
    code, status, _ = run_cli(["status", run_dir.name])
    assert code == 0 and "\x1b" not in status, status
    code, events, err = run_cli(["events", run_dir.name])  # the failure quotes its last lines
    assert code == 0, err
    assert "\x1b" not in events and "\\x1b]52;c;" in events, events
