"""Run-wide actions (hand-off, stop), the GPU screen's orphan action, the detail
screen: against a real supervisor and real processes."""

from __future__ import annotations

import subprocess
import sys

import psutil
from textual.widgets import Input, Log
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
from tuitune.system import FakeGpuSource
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.screens.dialogs import ConfirmDialog
from tuitune.ui.widgets import live_text
from tuitune.ui.screens.gpu_screen import GpuScreen, ProcessList
from tuitune.ui.screens.handoff import HandoffForm

SIZE = (120, 40)


def _meta(run_dir):
    store = RunStore(run_dir)
    try:
        return store.meta()
    finally:
        store.close()


async def test_handoff_to_random_search_and_back_to_manual(fresh_live_run):
    run_dir = fresh_live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "manual" in screen_text(app)
        await pilot.press("h")
        form = await wait_for(pilot, lambda: isinstance(app.screen, HandoffForm) and app.screen)
        assert form.strategies[0] == "manual" and "random" in form.strategies  # what exists
        assert form.strategy == "random"
        form.query_one("#more", Input).focus()
        await pilot.press(*"2", "tab", *"1", "enter")
        await wait_for(pilot, lambda: _meta(run_dir).get("strategy") == "random", what="random")
        meta = _meta(run_dir)
        assert meta["max_trials"] == 2 and meta["max_concurrent"] == 1
        handoff = events(run_dir, "handoff")
        assert handoff and handoff[-1].actor == "user"
        suggested = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                                   if t.origin == "random"], what="a trial")
        await wait_for(pilot, lambda: suggested[0].id in app.view.rows, what="its row")
        await wait_for(pilot, lambda: "auto: random" in screen_text(app), what="the header")
        # and back to manual at any time
        await pilot.press("h")
        form = await wait_for(pilot, lambda: isinstance(app.screen, HandoffForm) and app.screen)
        assert form.strategy == "manual"
        await pilot.press("enter")
        await wait_for(pilot, lambda: _meta(run_dir).get("strategy") == "manual", what="manual")
        assert len(events(run_dir, "handoff")) == 2


async def test_stop_experiment_asks_then_ends_everything(fresh_live_run):
    run_dir = fresh_live_run.run_dir
    tid = new_trial(run_dir)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        t = await wait_for(pilot, lambda: (r := trial(run_dir, tid)).state == "running" and r,
                           what="running")
        await pilot.press("X")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog)
                                and app.screen)
        assert callable(dialog.detail)  # read at every poll (widgets/live_text.py)
        assert "1 running" in live_text.read(dialog.detail)
        await pilot.press("y")
        await wait_for(pilot, lambda: not fresh_live_run.supervisor_alive(), timeout=30,
                       what="the supervisor to end")
        stop = events(run_dir, "stop")
        assert stop and stop[0].actor == "user"
        await wait_for(pilot, lambda: "live" not in screen_text(app).splitlines()[0],
                       what="the header to say the supervisor is gone")
        assert trial(run_dir, tid).state == "killed"
        assert not psutil.pid_exists(t.pid) or psutil.Process(t.pid).status() == "zombie"


async def test_orphan_gpu_process_can_be_ended_but_a_trial_cannot(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        t = trial(run_dir, tid)
        while t.state != "running" or not t.pid:
            t = trial(run_dir, tid)
        trial_proc = psutil.Process(t.pid).children(recursive=True) or [psutil.Process(t.pid)]
        source = FakeGpuSource(2)
        source.set_processes(0, {orphan.pid: 2048.0})
        source.set_processes(1, {trial_proc[0].pid: 1024.0})
        app = make_app(run_dir, gpu_source=source)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("g")
            screen = await wait_for(pilot, lambda: isinstance(app.screen, GpuScreen)
                                    and app.screen)
            procs = screen.query_one(ProcessList)
            await wait_for(pilot, lambda: len(procs.procs) == 2
                           and any(p.trial_id == tid for p in procs.procs), what="attribution")
            text = screen_text(app)
            assert "orphan" in text and f"#{tid}" in text
            # the trial's process: refused, it stays
            procs.cursor = [p.pid for p in procs.procs].index(trial_proc[0].pid)
            await pilot.press("K")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmDialog)
            assert trial_proc[0].is_running()
            # the orphan: confirmed, then SIGTERM
            procs.cursor = [p.pid for p in procs.procs].index(orphan.pid)
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_for(pilot, lambda: orphan.poll() is not None, what="the orphan to end")
            assert orphan.returncode == -15
            await pilot.press("b")
            assert not isinstance(app.screen, GpuScreen)
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


async def test_detail_screen_follows_the_log_and_shows_history(live_run):
    run_dir = live_run.run_dir
    tid = new_trial(run_dir, lr=0.04)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: tid in app.screen.table.order, what="the row")
        app.screen.table.select(tid)
        await pilot.press("enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                                and app.screen)
        assert screen.trial_id == tid
        await wait_for(pilot, lambda: (tid, "loss") in app.view.curves
                       and (tid, "val_loss") in app.view.curves, what="both curves")
        assert screen.pair == ("loss", "val_loss")
        await pilot.press("3")
        log = screen.query_one(Log)
        await wait_for(pilot, lambda: log.line_count > 3, what="log lines")
        first = log.line_count
        await wait_for(pilot, lambda: log.line_count > first + 3, what="the log to follow")
        assert log.lines[-1].startswith("step ")
        await pilot.press("4")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert f"#{tid} running" in text and "created" not in text or "started" in text
        await pilot.press("2")
        await pilot.pause(0.2)
        assert "0.04" in screen_text(app)
        await pilot.press("b")
        assert not isinstance(app.screen, DetailScreen)


async def test_handoff_form_chooses_every_stopping_rule_with_options(fresh_live_run):
    """Every rule in the registry can be ticked in the hand-off form (predict included),
    with its options; the supervisor then runs those rules (meta and event say so)."""
    from textual.widgets import SelectionList

    from tuitune.stopping import RULES

    run_dir = fresh_live_run.run_dir
    app = make_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:  # the smallest supported terminal
        await settle(pilot, app)
        await pilot.press("h")
        form = await wait_for(pilot, lambda: isinstance(app.screen, HandoffForm) and app.screen)
        rules = form.query_one("#rules", SelectionList)
        assert sorted(form.rules) == sorted(RULES) and not rules.selected  # the spec has none
        # Everything the form needs fits in 80x24: every field and both buttons show.
        text = screen_text(app)
        for shown in ("stopping rules", "rule options", "at a time", "Start (enter)",
                      "Cancel (esc)", "stopping: none", *RULES):
            assert shown in text, f"{shown!r} is not on the 80x24 screen:\n{text}"
        rules.focus()
        await pilot.press(*["down"] * form.rules.index("predict"), "space")
        assert rules.selected == ["predict"]
        form.query_one("#rule-options", Input).focus()
        await pilot.press(*"predict.top_k=5, predict.probability=0.1", "enter")
        await wait_for(pilot, lambda: _meta(run_dir).get("stopping_rules") is not None,
                       what="the rules in the meta")
        assert _meta(run_dir)["stopping_rules"] == [["predict",
                                                      {"top_k": 5, "probability": 0.1}]]
        assert "stopping rules: predict" in events(run_dir, "handoff")[-1].message
        # Opened again: predict is ticked, first, with its options; a bad option is
        # refused in the form's error line and nothing is sent.
        await pilot.press("h")
        form = await wait_for(pilot, lambda: isinstance(app.screen, HandoffForm) and app.screen)
        assert form.rules[0] == "predict"
        assert form.query_one("#rules", SelectionList).selected == ["predict"]
        options = form.query_one("#rule-options", Input)
        assert options.value == "predict.top_k=5, predict.probability=0.1"
        options.focus()
        await pilot.press("end", *", asha.reduction_factor=3", "enter")
        error = form.query_one("#form-error")
        await wait_for(pilot, lambda: "not among the chosen rules" in str(error.render()),
                       what="the refusal")
        assert len(events(run_dir, "handoff")) == 1
