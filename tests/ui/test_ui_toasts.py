"""Toasts that hide nothing and dialogs with current numbers (issue 14, item 4)."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from textual.widgets._toast import Toast
from ui_helpers import FIXED_NOW, make_fixed_app, screen_text, settle, wait_for

from tuitune.store import RunStore
from tuitune.ui.screens.dialogs import ConfirmDialog

pytestmark = pytest.mark.usefixtures("utc")


async def test_a_burst_of_toasts_shows_one_line_at_a_time(fixed_run):
    """Each star or tweak used to add a 3-4 line toast, stacked up to four over the
    chart for 5 s; now a new one replaces the last, on the footer's line."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        chart_top = app.screen.query_one("#chart").region.y
        for i in range(4):
            app.notify(f"trial {i}: a message long enough to wrap on two lines of an "
                       f"eighty-column terminal if toasts were allowed to wrap ({i})")
        await pilot.pause(0.2)
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 1
        toast = toasts[0]
        assert toast.region.height == 1 and toast.region.y == 23  # the footer's line
        assert toast.region.y > chart_top + app.screen.query_one("#chart").region.height - 1
        line = screen_text(app).splitlines()[23]
        assert "(3)" not in line and line.rstrip().endswith("…")  # cut, on one line
        assert "trial 3:" in line


async def test_the_kill_dialog_shows_the_step_the_row_shows(fixed_run):
    """The kill dialog said step 22 while the row behind it said 23: its numbers were
    read once, when it opened. Now they follow the polls."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        app.screen.table.select(2)  # running, at step 35
        await pilot.press("k")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog)
                                and app.screen, what="the kill dialog")
        detail = dialog.query_one(".dialog-detail", Static)
        assert "step 35," in str(detail.render())
        store = RunStore(fixed_run)
        store.add_metrics(2, [(36, "val_loss", 0.5, FIXED_NOW), (36, "loss", 0.4, FIXED_NOW)])
        store.close()
        app.store_loop.wake()
        await wait_for(pilot, lambda: app.view.rows[2].step == 36, what="step 36 polled")
        await pilot.pause(0.1)
        assert "step 36," in str(detail.render())
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))


async def test_an_answer_arriving_as_the_app_closes_shows_no_traceback(fixed_run):
    """A toast is drawn on the next turn of the loop; an engine answer that lands as
    the app closes found no screen and raised ScreenStackError (seen in a key-burst
    test under load). Now it is dropped."""
    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
    assert not app.screen_stack
    app.notify("clone: done")  # queued for the next turn, which finds no screen
    app._show_toast()  # what that turn runs
    assert app._toast is None


async def test_the_clone_form_names_the_checkpoint_a_clone_would_start_from(fixed_run):
    """The clone form read the trial's checkpoint once, when it opened: a running trial
    saving on meanwhile was cloned from a later step than the form said, and one that
    had saved none kept its box disabled. Now the form follows the polls."""
    from textual.widgets import Checkbox

    from tuitune.ui.screens.param_form import ParamForm

    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        app.screen.table.select(2)  # running; no checkpoint file recorded yet
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen,
                              what="the clone form")
        box = form.query_one("#from-checkpoint", Checkbox)
        assert box.disabled and "saved no checkpoint" in (form.checkpoint_refusal or "")
        store = RunStore(fixed_run)
        store.update_trial(2, checkpoint=str(fixed_run / "ck2"), checkpoint_step=38)
        store.close()
        app.store_loop.wake()
        await wait_for(pilot, lambda: not box.disabled, what="the box enabled")
        assert "(step 38)" in str(box.label) and form.checkpoint_refusal is None
        assert not form.query_one("#checkpoint-refusal", Static).display
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ParamForm))


async def test_the_budget_and_handoff_forms_count_the_trials_so_far_at_every_poll(fixed_run):
    """Their 'N trials so far' was read once, when the form opened."""
    from tuitune.ui.screens.command_line_form import CommandLineForm
    from tuitune.ui.screens.handoff import HandoffForm

    app = make_fixed_app(fixed_run, gpus=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        for key, form_type in (("B", CommandLineForm), ("h", HandoffForm)):
            used = app.view.header.budget_used
            await pilot.press(key)
            form = await wait_for(pilot, lambda t=form_type: isinstance(app.screen, t)
                                  and app.screen, what=f"the form of {key}")
            assert f"{used} trials so far" in screen_text(app)
            store = RunStore(fixed_run)
            store.create_trial({"lr": 0.01, "units": 8, "opt": "sgd"}, "random", "engine")
            store.close()
            app.store_loop.wake()
            await wait_for(pilot, lambda u=used: app.view.header.budget_used == u + 1,
                           what="a trial more polled")
            await pilot.pause(0.1)
            assert f"{used + 1} trials so far" in screen_text(app), key
            await pilot.press("escape")
            await wait_for(pilot, lambda f=form: app.screen is not f, what="the form closed")


async def test_the_clone_form_shows_values_as_people_write_them_and_sends_them_exact(
        tmp_path):
    """The clone form's focused field showed `34660919228307` (the tail of lr's
    0.24434660919228307, scrolled to the cursor at 80x24): the prefill is now 4
    significant digits, and a field left as prefilled stands for the exact value, so
    nothing rounded is sent back as a change."""
    from textual.widgets import Input
    from ui_helpers import build_fixed_run

    from tuitune.ui.screens.param_form import ParamForm

    run_dir = build_fixed_run(tmp_path, weight_decay=True)
    app = make_fixed_app(run_dir, gpus=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.screen.table.select(5)
        exact = app.view.rows[5].current["weight_decay"]  # 1.234567e-6 * 2.7**4
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen,
                              what="the clone form")
        field = form.query_one("#p-weight_decay", Input)
        assert field.value == "6.561e-5"  # 6.561e-05 to 4 digits; the table shows 6.56e-5
        kept = form.result()
        assert kept is not None and kept.changed == {}
        assert kept.values["weight_decay"] == exact  # exact, not 6.561e-5
        field.value = "1e-4"
        changed = form.result()
        assert changed is not None and changed.changed == {"weight_decay": 1e-4}
        await pilot.press("escape")
