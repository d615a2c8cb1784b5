"""A finished run stays steerable from the TUI: `n` and `h` start its supervisor again,
and the hand-off's "more trials" means more from now. Real supervisor and trials."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input
from ui_helpers import (
    SPEC,
    TRIAL_SCRIPT,
    _kill_leftovers,
    from_store,
    make_app,
    settle,
    wait_for,
)

from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
from tuitune.ui.screens.handoff import HandoffForm
from tuitune.ui.screens.param_form import ParamForm

pytestmark = pytest.mark.slow
SIZE = (120, 40)


@pytest.fixture
def finished_run(tmp_path) -> Iterator[Path]:
    """Random search over two short trials, run to its end ("budget used")."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "trial.py").write_text(TRIAL_SCRIPT.replace('p.get("steps", 600)', "15"))
    (folder / "spec.toml").write_text(
        SPEC.format(name="uifinished").replace('strategy = "manual"', 'strategy = "random"')
        .replace("max_concurrent = 16", "max_concurrent = 2\nmax_trials = 2"))
    run_dir = create_run(load_spec(folder / "spec.toml"), tmp_path / "runs")
    assert wait_for_supervisor(run_dir, spawn_supervisor(run_dir))
    deadline = time.monotonic() + 60
    while from_store(run_dir, lambda s: s.meta().get("state")) != "finished":
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(0.2)
    try:
        yield run_dir
    finally:  # a failed test may leave the restarted supervisor and trials running
        _kill_leftovers(run_dir, None)


def _states(run_dir: Path) -> dict[int, str]:
    return from_store(run_dir, lambda s: {t.id: t.state for t in s.trials()})


async def test_new_trial_and_more_trials_on_a_finished_run(finished_run):
    run_dir = finished_run
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ParamForm), what="the form")
        await pilot.press(*"0.05", "enter")
        await wait_for(pilot, lambda: _states(run_dir).get(3) == "completed", timeout=60,
                       what="the new trial to run and complete")
        assert from_store(run_dir, lambda s: s.trial(3).params["lr"]) == 0.05

        await pilot.press("h")
        form = await wait_for(pilot, lambda: isinstance(app.screen, HandoffForm)
                              and app.screen, what="the hand-off form")
        await pilot.press("down")  # from "manual" (the default away from random) to random
        assert form.strategy == "random"
        form.query_one("#more", Input).focus()
        await pilot.press("1", "enter")  # one more trial from now: 3 had run, 4 in all
        await wait_for(pilot, lambda: len(_states(run_dir)) == 4 and from_store(
            run_dir, lambda s: s.meta().get("state")) == "finished", timeout=60,
            what="one more searched trial, and the run finished again")
        assert from_store(run_dir, lambda s: s.meta()["max_trials"]) == 4
        assert set(_states(run_dir).values()) == {"completed"}
        assert from_store(run_dir, lambda s: s.trial(4).origin) == "random"
