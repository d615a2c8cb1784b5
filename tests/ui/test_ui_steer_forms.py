"""The space (S) and budget (B) forms, against a real supervisor and the real store:
the line typed in one key burst is parsed by the command's own CLI form, checked by the
engine (a bad line keeps the form open with the reason), and sent."""

from __future__ import annotations

from textual.widgets import Static
from ui_helpers import make_app, open_screen, settle, wait_for

from tuitune.engine.space_edit import META_KEY
from tuitune.store import RunStore
from tuitune.ui.screens.command_line_form import CommandLineForm
from tuitune.ui.screens.param_form import ParamForm

SIZE = (80, 24)  # the smallest screen the TUI is made for


def _meta(run_dir, key):
    store = RunStore(run_dir)
    try:
        return store.meta([key]).get(key)
    finally:
        store.close()


async def _shown_error(pilot, form: CommandLineForm) -> str:
    """The form's error line, once it is on screen (not only in the widget's text)."""
    line = form.query_one("#form-error", Static)
    await wait_for(pilot, lambda: line.display and line.region.height > 0, what="the error")
    return str(line.render()).strip()


async def _form(pilot, app, key: str) -> CommandLineForm:
    return await open_screen(pilot, app, key, CommandLineForm)


async def test_space_and_budget_forms_send_their_commands(fresh_live_run):
    run_dir = fresh_live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        form = await _form(pilot, app, "S")
        assert any("lr: " in str(w.render()) for w in form.query(Static))  # what is now
        # Every example is on screen at 80x24, in this run's own parameter names.
        examples = form.query_one(".form-examples", Static)
        said = str(examples.render()).splitlines()
        assert examples.region.height == len(said) and "e.g. --undo" in said
        assert any("--choices opt=A,B" in line for line in said)
        assert form.query_one("#ok").region.bottom <= SIZE[1]
        await pilot.press(*"lr=0.5..0.1", "enter")  # low above high: refused in the form
        error = await _shown_error(pilot, form)
        assert "low must be below high" in error and app.screen is form
        assert _meta(run_dir, META_KEY) is None  # nothing sent
        await pilot.press("ctrl+a", "ctrl+k", *"lr=0.001..0.01 --log --choices opt+=rmsprop",
                          "enter")
        revs = await wait_for(pilot, lambda: _meta(run_dir, META_KEY), what="the revision")
        assert revs[-1]["space"]["lr"]["low"] == 0.001 and revs[-1]["space"]["lr"]["log"]
        assert revs[-1]["space"]["opt"]["choices"] == ["sgd", "adam", "rmsprop"]
        assert revs[-1]["actor"] == "user"

        # The new-trial form shows the ranges in effect; a value outside this revision
        # (inside the spec's) is allowed, and its warning is a toast of its own.
        await pilot.press("n")
        new = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen,
                             what="the new-trial form")
        helps = [str(w.render()) for w in new.query(".form-help")]
        assert any(h.startswith("float [0.001, 0.01] log") for h in helps), helps
        await pilot.press(*"0.5", "enter")
        warned = await wait_for(pilot, lambda: [n for n in app._notifications
                                                if n.message.startswith("warning: trial")],
                                what="the warning")
        assert warned[0].severity == "warning" and "lr=0.5" in warned[0].message

        form = await _form(pilot, app, "B")
        await pilot.press(*"--max-concurrent 3 --trial-timeout 30m", "enter")
        await wait_for(pilot, lambda: _meta(run_dir, "trial_timeout") == 1800,
                       what="the budget")
        assert _meta(run_dir, "max_concurrent") == 3
        form = await _form(pilot, app, "B")
        await pilot.press(*"--max-trials", "enter")
        error = await _shown_error(pilot, form)
        assert "expected one argument" in error
        await pilot.press("escape")
