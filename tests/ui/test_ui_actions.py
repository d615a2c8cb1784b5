"""Hand actions from the keyboard, against a real supervisor, real trial processes
and the real store: the key is pressed, and the process and the store change."""

from __future__ import annotations

import psutil
from textual.widgets import Checkbox, Input
from ui_helpers import (
    events,
    make_app,
    new_trial,
    screen_text,
    settle,
    trial,
    wait_for,
)

from tuitune.store import RunStore
from tuitune.ui.screens.dialogs import ConfirmDialog, NoteDialog
from tuitune.ui.screens.param_form import ParamForm

SIZE = (120, 40)


async def _select(pilot, app, trial_id: int) -> None:
    """Move the table cursor onto a trial with the keyboard (rows are by id)."""
    await wait_for(pilot, lambda: trial_id in app.screen.table.order, what=f"row {trial_id}")
    await pilot.press("home")
    for _ in range(app.screen.table.order.index(trial_id)):
        await pilot.press("down")
    assert app.screen.table.cursor_id == trial_id


async def _running(pilot, run_dir, trial_id: int):
    return await wait_for(
        pilot, lambda: (t := trial(run_dir, trial_id)) is not None and t.state == "running"
        and t.pid and t, what=f"trial {trial_id} running")


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


async def test_new_trial_form_starts_a_trial(live_run):
    run_dir = live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        store = RunStore(run_dir)
        before = {t.id for t in store.trials()}
        store.close()
        await pilot.press("n")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert form.query_one("#p-lr", Input).value == "0.01"  # the space's default
        await pilot.press(*"0.05")  # the field's text is selected: typing replaces it
        await pilot.press("tab", *"12", "enter")
        new = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                             if t.id not in before], what="a new trial")
        t = await _running(pilot, run_dir, new[0].id)
        assert t.params == {"lr": 0.05, "units": 12, "opt": "sgd"}
        assert psutil.pid_exists(t.pid)
        created = events(run_dir, "created", t.id)
        assert created and created[0].actor == "user"
        await wait_for(pilot, lambda: t.id in app.screen.table.order, what="the new row")


async def test_invalid_value_is_shown_in_the_form_and_nothing_is_sent(live_run):
    run_dir = live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        n_before = len(RunStore(run_dir).trials())
        await pilot.press("n")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        await pilot.press(*"7")  # lr = 7 is outside [0.0001, 1]
        await pilot.pause(0.1)
        assert "outside" in str(form.query_one("#e-lr").render())
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is form  # still open: nothing was sent
        assert len(RunStore(run_dir).trials()) == n_before
        await pilot.press("escape")
        assert not isinstance(app.screen, ParamForm)


async def test_kill_asks_first_then_ends_the_process(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir, lr=0.02)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await _running(pilot, run_dir, tid)
        procs = _tree(t.pid)
        await _select(pilot, app, tid)
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.3)
        assert trial(run_dir, tid).state == "running"
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: trial(run_dir, tid).state == "killed", what="killed")
        gone, alive = psutil.wait_procs(procs, timeout=10)
        assert not alive
        killed = events(run_dir, "killed", tid)
        assert killed and killed[0].actor == "user"
        await wait_for(pilot, lambda: "killed" in screen_text(app), what="the row to say so")


async def test_pause_then_resume(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await _running(pilot, run_dir, tid)
        await _select(pilot, app, tid)
        await pilot.press("p")
        await wait_for(pilot, lambda: trial(run_dir, tid).state == "paused", what="paused")
        assert all(p.status() == psutil.STATUS_STOPPED for p in _tree(t.pid))
        await wait_for(pilot, lambda: app.view.rows[tid].state == "paused", what="shown")
        await pilot.press("p")
        await wait_for(pilot, lambda: trial(run_dir, tid).state == "running", what="resumed")
        assert all(p.status() != psutil.STATUS_STOPPED for p in _tree(t.pid))
        kinds = [e.kind for e in events(run_dir, trial_id=tid) if e.actor == "user"]
        assert kinds == ["paused", "running"]


async def test_clone_with_an_edited_parameter(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir, lr=0.03, units=4)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _running(pilot, run_dir, tid)
        await _select(pilot, app, tid)
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert form.query_one("#p-units", Input).value == "4"  # prefilled from the trial
        await pilot.press("tab", *"32", "enter")
        clone = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                               if t.parent_id == tid], what="the clone")
        c = clone[0]
        assert c.origin == "clone" and not c.from_checkpoint
        assert c.params["units"] == 32 and c.params["lr"] == 0.03
        await _running(pilot, run_dir, c.id)
        created = events(run_dir, "created", c.id)
        assert created[0].actor == "user" and "cloned from trial" in created[0].message
        await wait_for(pilot, lambda: c.id in app.view.rows
                       and app.view.rows[c.id].origin_label.startswith(f"clone #{tid}"))


async def test_clone_from_the_latest_checkpoint(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _running(pilot, run_dir, tid)
        await wait_for(pilot, lambda: app.view.rows.get(tid) is not None
                       and app.view.rows[tid].checkpoint_step, what="a checkpoint")
        await _select(pilot, app, tid)
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        box = form.query_one("#from-checkpoint", Checkbox)
        assert not box.disabled
        box.focus()
        await pilot.press("space", "enter")
        clone = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                               if t.parent_id == tid], what="the clone")
        c = clone[0]
        assert c.from_checkpoint and c.clone_step is not None and c.clone_step >= 5
        assert c.initial_checkpoint and "initial_checkpoint" in c.initial_checkpoint
        await _running(pilot, run_dir, c.id)
        # the clone resumes after the checkpoint's step
        await wait_for(pilot, lambda: (r := app.view.rows.get(c.id)) is not None and r.step
                       and r.step > c.clone_step, what="the clone's first report")
        first = RunStore(run_dir).metrics(trial_id=c.id, name="val_loss", limit=1)[0]
        assert first.step == c.clone_step + 1


async def test_tweak_form_and_learning_rate_keys(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir, lr=0.01)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _running(pilot, run_dir, tid)
        await _select(pilot, app, tid)
        await pilot.press("t")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert [i.id for i in form.query(Input)] == ["p-lr"]  # only mutable parameters
        await pilot.press(*"0.02", "enter")

        def applied(value):
            store = RunStore(run_dir)
            try:
                return [c for c in store.param_changes(tid)
                        if c.value == value and c.applied_step is not None]
            finally:
                store.close()
        change = (await wait_for(pilot, lambda: applied(0.02), what="tweak applied"))[0]
        assert change.actor == "user"
        await wait_for(pilot, lambda: app.view.rows[tid].current["lr"] == 0.02)
        await pilot.press("left_square_bracket")  # lr / 10
        await wait_for(pilot, lambda: applied(0.002), what="lr / 10 applied")
        await wait_for(pilot, lambda: app.view.rows[tid].current["lr"] == 0.002)
        await pilot.press("right_square_bracket", "right_square_bracket")  # x 100
        await wait_for(pilot, lambda: app.view.rows[tid].current["lr"] == 0.2, what="x100")
        # The row can show the new value before the supervisor has recorded the trial's
        # acknowledgement (it reads acks every 0.25 s): wait for the events, then count.
        def kinds():
            return [e.kind for e in events(run_dir, trial_id=tid)]
        await wait_for(pilot, lambda: kinds().count("tweak_applied") >= 4,
                       what="four tweaks acknowledged")
        assert kinds().count("tweak_requested") == 4 and kinds().count("tweak_applied") == 4
        assert app.view.rows[tid].origin_label.endswith("+tw")


async def test_note_and_star(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _select(pilot, app, tid)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"odd spike", "enter")
        await wait_for(pilot, lambda: trial(run_dir, tid).note == "odd spike", what="note")
        note = events(run_dir, "note", tid)
        assert note and note[0].actor == "user"
        await wait_for(pilot, lambda: "odd spike" in screen_text(app), what="note shown")
        await pilot.press("s")
        await wait_for(pilot, lambda: trial(run_dir, tid).starred, what="starred")
        # a starred trial is pinned on the chart next to the selected one
        await wait_for(pilot, lambda: app.view.rows[tid].starred)
        await pilot.press("home")
        first = app.screen.table.cursor_id
        if first != tid:
            await wait_for(pilot, lambda: (tid, "val_loss") in app.view.curves,
                           what="the pinned curve")
            await wait_for(pilot, lambda: f"#{tid}*" in screen_text(app), what="the legend")
        await _select(pilot, app, tid)
        await pilot.press("s")
        await wait_for(pilot, lambda: not trial(run_dir, tid).starred, what="unstarred")


async def test_quit_detaches_and_leaves_trials_running(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await _running(pilot, run_dir, tid)
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0
    assert live_run.supervisor_alive()
    assert trial(run_dir, tid).state == "running"
    assert psutil.pid_exists(t.pid)
