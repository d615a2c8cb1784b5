"""Monochrome and non-UTF-8 terminals (issue 14, item 6): ASCII drawing chosen from the
locale, one character for one so the layout holds; a checkbox that reads without
colour."""

from __future__ import annotations

import pytest
from ui_helpers import (FixedClock, fixed_host, make_fixed_app, open_screen, screen_text, settle,
                        wait_for)

from textual.widgets import SelectionList

from tuitune.client.cli import build_parser
from tuitune.system import FakeGpuSource
from tuitune.ui import glyphs
from tuitune.ui.factory import build_monitor
from tuitune.ui.glyphs import ascii_char, locale_is_utf8, needs_ascii, to_ascii
from tuitune.ui.screens.handoff import HandoffForm
from tuitune.ui.screens.param_form import ParamForm
from tuitune.ui.widgets.ticks import FormCheckbox

pytestmark = pytest.mark.usefixtures("utc")


@pytest.mark.parametrize(("env", "utf8"), [
    ({"LANG": "en_US.UTF-8"}, True),
    ({"LANG": "C"}, False),
    ({}, False),
    ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, False),  # LC_ALL decides
    ({"LC_CTYPE": "de_DE.utf8", "LANG": "C"}, True),
    ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, False),  # Python's own coercion (PEP 538)
    ({"LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8"}, True),
    ({"LANG": "POSIX"}, False),
])
def test_the_locale_decides(env, utf8):
    assert locale_is_utf8(env) is utf8
    assert needs_ascii(env, "utf-8") is not utf8


def test_an_output_encoding_that_is_not_utf8_needs_ascii():
    assert needs_ascii({"LANG": "en_US.UTF-8"}, "ANSI_X3.4-1968")
    assert not needs_ascii({"LANG": "en_US.UTF-8"}, "UTF-8")


def test_every_drawing_character_has_an_ascii_stand_in_of_its_width():
    drawn = "▁▂▃▄▅▆▇█ ▏▎▍▌▋▊▉│─└┼━╸╺╭╮●○■▲▼→…·" + "".join(
        chr(c) for c in range(0x2800, 0x2900))
    out = to_ascii(drawn)
    assert out.isascii() and len(out) == len(drawn)
    assert to_ascii("▁▂▃▄▅▆▇█") == "_.-=+*%#"  # a sparkline keeps its shape
    assert ascii_char("⠉") == "'" and ascii_char("⣀") == "." and ascii_char("⡇") == "|"
    assert ascii_char("日") == "??" and ascii_char("é") == "e"


def test_the_ascii_flag_on_the_commands_that_open_the_tui():
    parser = build_parser()
    for argv in (["run", "spec.toml", "--ascii"], ["attach", "x", "--ascii"],
                 ["gpu", "--ascii"]):
        assert parser.parse_args(argv).ascii is True
    assert parser.parse_args(["attach", "x"]).ascii is False


async def test_ascii_mode_draws_every_screen_in_ascii_with_a_notice(fixed_run):
    app = make_fixed_app(fixed_run, gpus=4, ascii=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        assert any(n.message == glyphs.NOTICE for n in app._notifications)
        text = screen_text(app)
        assert text.isascii() and "+-----" in text  # the chart's axis
        # whole on the footer's line at 80 columns: the way out was cut to `... for t~`
        assert glyphs.NOTICE in text.splitlines()[23], text.splitlines()[23]
        await pilot.press("enter")
        await wait_for(pilot, lambda: (1, "loss") in app.view.curves, what="curves")
        await pilot.pause(0.2)
        assert screen_text(app).isascii()
    assert not glyphs.active()  # off again with the app


async def test_an_unchecked_box_shows_no_x(fixed_run):
    """Textual draws `X` in a checkbox either way, telling them apart by colour only:
    the clone form's unchecked box read as checked on a monochrome terminal."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm)
                              and app.screen, what="the clone form")
        box = form.query_one(FormCheckbox)
        assert not box.value and "X" not in str(box.render())
        box.value = True
        assert "X" in str(box.render())


async def _open_handoff(pilot, app) -> HandoffForm:
    await settle(pilot, app)
    return await open_screen(pilot, app, "h", HandoffForm)


async def test_the_handoff_rules_show_x_only_where_ticked(fixed_run):
    """Every rule of the hand-off form read as ticked without colour (Textual's
    SelectionList draws `X` on each line too); in ASCII drawing they read `[X]`, `[ ]`."""
    for ascii_drawing in (False, True):
        app = make_fixed_app(fixed_run, gpus=4, ascii=ascii_drawing)
        async with app.run_test(size=(80, 24)) as pilot:
            form = await _open_handoff(pilot, app)
            rules = form.query_one("#rules", SelectionList)
            rules.focus()
            await pilot.press("down", "space")  # tick the second rule
            await pilot.pause(0.1)
            ticked = rules.get_option_at_index(1).value
            assert rules.selected == [ticked]
            lines = {str(rules.get_option_at_index(i).value): rules.render_line(i).text
                     for i in range(rules.option_count)}
            for name, line in lines.items():
                want = ("[{}]" if ascii_drawing else "▐{}▌").format("X" if name == ticked else " ")
                assert line[:3] == want, (name, line)


async def test_enter_on_the_rule_list_submits_the_form_and_keeps_the_ticks(fixed_run):
    """Seen in tmux: Enter in the hand-off form's rule list (the button says "Start
    (enter)") unticked the rule just ticked and left the form open."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_handoff(pilot, app)
        submitted = []
        form.action_submit = lambda: submitted.append(form.args())  # type: ignore[method-assign]
        rules = form.query_one("#rules", SelectionList)
        rules.focus()
        await pilot.press("space", "enter")
        await pilot.pause(0.1)
        first = rules.get_option_at_index(0).value
        assert rules.selected == [first]
        assert len(submitted) == 1 and submitted[0]["rules"] == [[first, {}]]


def test_ascii_fallback_80x24(snap_compare, fixed_run):
    """Issue 14 acceptance: the run screen as a terminal without UTF-8 gets it."""
    app = make_fixed_app(fixed_run, gpus=4, ascii=True)

    async def run_before(pilot):
        await settle(pilot, app)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_the_gpu_monitor_draws_ascii_too():
    source = FakeGpuSource(2, name="Fake A100 80GB", mem_total_mb=81920.0)
    source.set_util(0, 60.0)
    app = build_monitor(clock=FixedClock(), gpu_source=source, host=fixed_host, steady=True,
                        system_interval=60.0, ascii=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.view.system is not None, what="a sample")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert glyphs.active() and text.isascii() and "util  60%" in text


def _in_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its stdout: (exit code, what it printed)."""
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", *argv], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(60), out.decode("utf-8", "replace")


def test_the_cli_prints_ascii_to_a_terminal_without_a_utf8_locale(fixed_run):
    """Issue 14.6 for the CLI: with LANG=C its `…` (a cut line) and `→` (a tweaked
    parameter's schedule) reached the terminal as UTF-8 bytes, shown as garbage.
    Printed to such a terminal they are now ASCII, as the TUI draws them; a pipe
    still gets the text as it is."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LANG": "C", "LC_ALL": "C", "COLUMNS": "60"}
    code, shown = _in_a_terminal(["status", str(fixed_run)], env)
    assert code == 0, shown
    assert shown.isascii(), [c for c in shown if not c.isascii()][:5]
    assert "lr 0.001 > 0.0005 @20" in shown  # the schedule's arrow, as the TUI's
    piped = subprocess.run([sys.executable, "-m", "tuitune", "status", str(fixed_run)],
                           capture_output=True, text=True, encoding="utf-8", env=env,
                           timeout=60, stdin=subprocess.DEVNULL)
    assert piped.returncode == 0 and "lr 0.001 → 0.0005 @20" in piped.stdout
    utf8 = {**env, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    assert "lr 0.001 → 0.0005 @20" in _in_a_terminal(["status", str(fixed_run)], utf8)[1]
