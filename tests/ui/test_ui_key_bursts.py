"""Keys in bursts, as a laggy SSH link delivers them: every form takes keys from the
moment it opens, in order, and the values stored are exactly the values typed. The
keys of each test go to the app in one burst (no wait between them), the key that
opens the form included. Against a real supervisor and the real store."""

from __future__ import annotations

from ui_helpers import (
    burst,
    events,
    from_store,
    make_app,
    make_fixed_app,
    new_trial,
    settle,
    trial,
    wait_for,
)

from tuitune.ui.screens.run_screen import RunScreen

SIZE = (120, 40)


def _trials(run_dir):
    return from_store(run_dir, lambda s: s.trials())


def _toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def _new_trial_from(pilot, app, run_dir, *keys: str):
    before = {t.id for t in _trials(run_dir)}
    burst(app, *keys)
    found = await wait_for(pilot, lambda: [t for t in _trials(run_dir) if t.id not in before],
                           what="the new trial")
    assert len(found) == 1, found
    return found[0]


async def _select(pilot, app, trial_id: int) -> None:
    await wait_for(pilot, lambda: trial_id in app.screen.table.order, what=f"row {trial_id}")
    burst(app, "home", *["down"] * app.screen.table.order.index(trial_id))
    await wait_for(pilot, lambda: app.screen.table.cursor_id == trial_id, what="the cursor")


async def test_new_trial_form_takes_a_burst_in_order(live_run):
    """`0.07 Tab 9 Tab ...` once gave lr=0.07964 and left the other fields as they were."""
    run_dir = live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await _new_trial_from(pilot, app, run_dir,
                                  "n", *"0.07", "tab", "9", "tab", *"adam", "enter")
        assert t.params == {"lr": 0.07, "units": 9, "opt": "adam"}
        # the answer echoes every value sent
        await wait_for(pilot, lambda: any(f"trial {t.id} queued: lr=0.07 units=9 opt=adam" in m
                                          for m in _toasts(app)), what="the echo")


async def test_backspaces_in_a_burst_are_not_lost(live_run):
    """`100` + three Backspaces + `32` once created units=10; two Backspaces and `16`
    were lost entirely."""
    run_dir = live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await _new_trial_from(
            pilot, app, run_dir, "n", *"0.2", "tab", *"100", "backspace", "backspace",
            "backspace", *"32", "tab", "backspace", "backspace", *"adam", "enter")
        assert t.params == {"lr": 0.2, "units": 32, "opt": "adam"}
        created = events(run_dir, "created", t.id)
        assert created and created[0].actor == "user"


async def test_clone_form_takes_a_burst(live_run):
    run_dir = live_run.run_dir
    source = new_trial(run_dir, lr=0.03, units=4)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _select(pilot, app, source)
        clone = await _new_trial_from(pilot, app, run_dir, "c", "tab", "backspace",
                                      "backspace", *"16", "enter")
        assert clone.parent_id == source and clone.origin == "clone"
        assert clone.params["units"] == 16 and clone.params["lr"] == 0.03


async def test_tweak_form_takes_a_burst(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir, lr=0.01)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: trial(run_dir, tid).state == "running", what="running")
        await wait_for(pilot, lambda: app.view.rows.get(tid) is not None
                       and app.view.rows[tid].state == "running", what="shown running")
        await _select(pilot, app, tid)
        burst(app, "t", *"0.004", "enter")

        def asked():
            return [c.value for c in from_store(run_dir, lambda s: s.param_changes(tid))]
        await wait_for(pilot, asked, what="the tweak")
        assert asked() == [0.004]


async def test_note_dialog_takes_a_burst_literally(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _select(pilot, app, tid)
        text = "[/] lr [bold]high"
        burst(app, "a", *text, "enter")
        await wait_for(pilot, lambda: trial(run_dir, tid).note == text, what="the note")
        assert isinstance(app.screen, RunScreen) and app.is_running


async def test_handoff_form_takes_a_burst(fresh_live_run):
    run_dir = fresh_live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        burst(app, "h", "tab", *"3", "tab", *"2", "enter")

        def meta():
            return from_store(run_dir, lambda s: s.meta())
        await wait_for(pilot, lambda: meta().get("strategy") == "random", what="the hand-off")
        handoff = events(run_dir, "handoff")[-1]
        assert handoff.actor == "user"
        assert meta()["max_concurrent"] == 2
        assert "3" in handoff.message or meta()["max_trials"] == 3


async def test_ctrl_c_cancels_a_fresh_form_and_the_next_key_goes_to_the_table(fixed_run):
    """The prefilled value is selected as the form opens; ctrl+c used to copy it, leave
    the form open, and let the next key land in it."""
    from textual.widgets import Input

    app = make_fixed_app(fixed_run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        home = app.screen
        n_before = len(_trials(fixed_run))

        async def cancel(*opener: str) -> None:
            filter_before = home.table.state.state_filter
            burst(app, *opener)
            await wait_for(pilot, lambda: app.screen is not home
                           and isinstance(app.focused, Input) and app.focused.value
                           and app.focused.selection.start != app.focused.selection.end,
                           what=f"a field with its value selected after {opener}")
            burst(app, "ctrl+c", "f")  # f: the table's state filter
            await wait_for(pilot, lambda: home.table.state.state_filter != filter_before,
                           what=f"f to reach the table after {opener} ctrl+c")
            assert app.screen is home, opener

        for opener in (("n",), ("c",), ("h", "tab")):
            await cancel(*opener)
        while home.table.state.state_filter != "all":
            burst(app, "f")
            await pilot.pause(0.05)
        running = next(t.id for t in _trials(fixed_run) if t.state == "running")
        await _select(pilot, app, running)
        await cancel("t")
        await _select(pilot, app, 3)  # trial 3 has a note: it is prefilled
        await cancel("a")
        assert len(_trials(fixed_run)) == n_before


async def test_a_clone_keeps_values_it_was_not_asked_to_change(live_run):
    """The form showed lr=0.2443 for 0.24434660919228307 and sent the rounded value
    back as a change: an untouched field must keep the value exactly."""
    run_dir = live_run.run_dir
    source = new_trial(run_dir, lr=0.24434660919228307, units=5)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _select(pilot, app, source)
        clone = await _new_trial_from(pilot, app, run_dir, "c", "enter")
        assert clone.parent_id == source
        assert clone.params["lr"] == 0.24434660919228307 and clone.params["units"] == 5
