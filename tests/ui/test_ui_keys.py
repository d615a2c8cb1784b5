"""Keys: every action has one, the help screen and the command palette list them all,
the table sorts and filters from the keyboard, and 80x24 stays usable."""

from __future__ import annotations

from ui_helpers import make_fixed_app, screen_text, settle, wait_for

from tuitune.ui.screens.hand_actions import HAND_BINDINGS
from tuitune.ui.screens.help import HelpScreen
from tuitune.ui.screens.run_screen import RunScreen


def _descriptions(screen) -> set[str]:
    return {b.description for _, b in screen._bindings if b.description}


async def test_help_lists_every_key_of_the_screen(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot, app)
        run_screen = app.screen
        await pilot.press("question_mark")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen)
                                     and app.screen)
        listed = {d for _, d in help_screen.rows}
        for _, binding in run_screen._bindings:
            if binding.description:
                assert (binding.tooltip or binding.description) in listed, binding
        for binding in HAND_BINDINGS:
            assert binding.tooltip in listed
        await pilot.press("q")
        assert isinstance(app.screen, RunScreen)


async def test_command_palette_offers_every_action(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot, app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert _descriptions(app.screen) <= titles
        assert {"New", "Kill", "Clone", "Tweak", "Handoff", "Stop experiment", "Detach",
                "Star/pin", "Note", "LR ÷10", "LR ×10"} <= titles
        # running one from the palette runs the action (the form opens)
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "New")
        command.callback()
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ParamForm", what="form")


async def test_sort_and_filter_from_the_keyboard(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        table = app.screen.table
        assert table.order == sorted(table.order)
        await pilot.press("o")  # best first (the objective is minimised)
        best = [app.view.rows[t].best for t in table.order if app.view.rows[t].best is not None]
        assert best == sorted(best) and table.state.sort == "best"
        await pilot.press("O")
        best = [app.view.rows[t].best for t in table.order if app.view.rows[t].best is not None]
        assert best == sorted(best, reverse=True)
        await pilot.press("f")  # active only
        assert {app.view.rows[t].state for t in table.order} <= {"running", "paused", "queued"}
        await pilot.press("slash", *"adam")
        assert table.order and all(app.view.rows[t].current["opt"] == "adam"
                                   for t in table.order)
        await pilot.press("enter")
        assert table.has_focus
        await pilot.press("slash", "ctrl+u", "enter")  # an empty filter clears it
        await pilot.press(*"ffffff")  # back round to all
        assert table.state.state_filter == "all" and len(table.order) == len(app.view.rows)


async def test_80x24_keeps_key_hints_and_switches_panes(fixed_run):
    app = make_fixed_app(fixed_run, gpus=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        # the footer draws its keys a frame after the screen (late on a loaded machine)
        text = await wait_for(pilot, lambda: "? Help" in screen_text(app) and screen_text(app),
                              what="the footer's keys")
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        for hint in ("n New", "k Kill", "c Clone", "t Tweak", "? Help", "q Detach"):
            assert hint in last
        assert "val_loss" in text and " 7 util" not in text  # chart shown, GPUs not
        await pilot.press("v")
        await wait_for(pilot, lambda: all(f" {i} util" in screen_text(app) for i in range(8)),
                       what="every GPU, uncut")
        await pilot.press("z")
        await wait_for(pilot, lambda: " 7 util" not in screen_text(app)  # the table alone
                       and "13  running" in screen_text(app), what="room for every trial")
