"""Conditional parameters in the TUI (issue 17.1), against a real supervisor and real
trial processes: the table shows `·` where a trial lacks a parameter, and the clone
and tweak forms show only the parameters that exist, re-checked as a parent changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.containers import Horizontal
from textual.widgets import Input
from ui_helpers import (
    LiveRun,
    make_app,
    new_trial,
    screen_text,
    settle,
    trial,
    wait_for,
    write_spec,
)

from tests.support.specs import MOMENTUM
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
from tuitune.store import RunStore
from tuitune.ui.screens.param_form import ParamForm

SIZE = (120, 40)
#: Empties a field whatever its selection (typing over a selected prefill depends on
#: the focus having selected it in time).
CLEAR = ("end", *["backspace"] * 8)


@pytest.fixture
def cond_run(tmp_path) -> Iterator[LiveRun]:
    spec = load_spec(write_spec(tmp_path / "spec", "uicond", extra_space=MOMENTUM))
    run_dir = create_run(spec, tmp_path / "runs")
    pid = spawn_supervisor(run_dir)
    assert wait_for_supervisor(run_dir, pid), (run_dir / "supervisor.log").read_text()
    run = LiveRun(run_dir, pid)
    try:
        yield run
    finally:
        run.stop()


async def _select(pilot, app, trial_id: int) -> None:
    await wait_for(pilot, lambda: trial_id in app.screen.table.order, what=f"row {trial_id}")
    await pilot.press("home")
    for _ in range(app.screen.table.order.index(trial_id)):
        await pilot.press("down")
    assert app.screen.table.cursor_id == trial_id


def _shown(form: ParamForm, name: str) -> bool:
    return bool(form.query_one(f"#r-{name}", Horizontal).display)


async def test_clone_form_shows_only_active_parameters_and_rechecks_them(cond_run):
    run_dir = cond_run.run_dir
    adam = new_trial(run_dir, lr=0.01, units=8, opt="adam")
    sgd = new_trial(run_dir, lr=0.02, units=8, opt="sgd", momentum=0.95)
    assert "momentum" not in trial(run_dir, adam).params
    assert trial(run_dir, sgd).params["momentum"] == 0.95
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _select(pilot, app, adam)
        row = next(line for line in screen_text(app).splitlines() if " adam " in line)
        assert "·" in row  # the adam trial has no momentum
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert not _shown(form, "momentum") and _shown(form, "opt")
        # lr, units, opt: the third field. Switching to sgd brings momentum in.
        await pilot.press("tab", "tab", *CLEAR, *"sgd")
        await wait_for(pilot, lambda: _shown(form, "momentum"), what="momentum shown")
        field = form.query_one("#p-momentum", Input)
        assert field.value == "0.9"  # its default
        await pilot.pause(0.3)  # the shown row joins the focus chain at the next layout
        await pilot.press("tab")
        await wait_for(pilot, lambda: app.focused is field, what="tab reaching momentum")
        await pilot.press(*CLEAR, *"0.8", "enter")
        store = RunStore(run_dir)
        clone = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                               if t.parent_id == adam], what="the clone")
        store.close()
        assert clone[0].params == {"lr": 0.01, "units": 8, "opt": "sgd", "momentum": 0.8}

        # And back: an sgd trial cloned as adam loses its momentum.
        await _select(pilot, app, sgd)
        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert _shown(form, "momentum")
        await pilot.press("tab", "tab", *CLEAR, *"adam")
        await wait_for(pilot, lambda: not _shown(form, "momentum"), what="momentum hidden")
        await pilot.press("enter")
        clone = await wait_for(pilot, lambda: [t for t in RunStore(run_dir).trials()
                                               if t.parent_id == sgd], what="the clone")
        assert clone[0].params == {"lr": 0.02, "units": 8, "opt": "adam"}


async def test_tweak_form_offers_a_conditional_parameter_only_where_it_exists(cond_run):
    run_dir = cond_run.run_dir
    adam = new_trial(run_dir, lr=0.01, units=8, opt="adam")
    sgd = new_trial(run_dir, lr=0.01, units=8, opt="sgd")
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for tid in (adam, sgd):
            await wait_for(pilot, lambda t=tid: trial(run_dir, t).state == "running",
                           what=f"trial {tid} running")
        await _select(pilot, app, adam)
        await pilot.press("t")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert _shown(form, "lr") and not _shown(form, "momentum")
        await pilot.press("escape")
        await _select(pilot, app, sgd)
        await pilot.press("t")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert _shown(form, "lr") and _shown(form, "momentum")
        await pilot.press("tab", *CLEAR, *"0.7", "enter")
        await wait_for(pilot, lambda: any(c.name == "momentum" and c.value == 0.7
                                          for c in RunStore(run_dir).param_changes(sgd)),
                       what="the momentum tweak recorded")
