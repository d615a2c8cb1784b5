"""The insight screen: snapshots at 80x24 and 200x50, and accepting advice."""

from __future__ import annotations

import pytest
from ui_helpers import make_fixed_app, settle, wait_for

from tests.support.processes import stop_headless
from tuitune.ui.screens.insight import InsightScreen

from .screen_data import build_insight_run

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def insight_run(tmp_path):
    return build_insight_run(tmp_path)


async def open_insight(pilot, app):
    await settle(pilot, app)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, InsightScreen), what="the screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.computed is not None and screen.computed.model_done
                   and screen.drawn is screen.computed, timeout=60,
                   what="the insight and the model on screen")
    await pilot.pause(0.2)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_insight_screen(snap_compare, insight_run, size):
    app = make_fixed_app(insight_run, gpus=2)

    async def run_before(pilot):
        await open_insight(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
async def test_accepting_a_zoom_advice_narrows_the_live_search(tt_home, tmp_path):
    """Real supervisor and trials: enter on the zoom advice sends the engine's space
    command, and every trial the searcher suggests afterwards lies in the new range."""
    from ui_helpers import make_app

    from tests.support.processes import start_headless
    from tests.support.specs import write_spec
    from tests.support.store_reads import events
    from tests.support.waiting import wait_for as wait_until
    from tuitune.store import RunStore

    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.3, strategy="random", concurrent=3,
                      budget="max_trials = 80")
    proc, run_dir = start_headless(spec, tt_home)

    def completed() -> int:
        store = RunStore(run_dir)
        try:
            return store.count_trials(["completed"])
        finally:
            store.close()

    try:
        wait_until(lambda: completed() >= 12, 120, "twelve finished trials")
        app = make_app(run_dir)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_insight(pilot, app)
            advice = screen.computed.insight.advice
            assert advice and advice[0].kind == "zoom"
            ranges = advice[0].args["ranges"]
            assert ranges
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(e.kind == "space" for e in events(run_dir)),
                           timeout=30, what="the space revision")
        edit = next(e for e in events(run_dir) if e.kind == "space")
        assert edit.actor == "user"

        def after():
            return [e.data["params"] for e in events(run_dir)
                    if e.kind == "created" and e.id > edit.id and e.actor == "search"]

        wait_until(lambda: len(after()) >= 5, 120, "five suggestions after the zoom")
        def inside(params):
            return all(b["low"] <= params[n] <= b["high"] for n, b in ranges.items())

        assert all(inside(p) for p in after()), after()
        before = [e.data["params"] for e in events(run_dir)
                  if e.kind == "created" and e.id < edit.id]
        assert not all(inside(p) for p in before)  # the zoom did narrow the search
    finally:
        stop_headless(proc, run_dir)


async def test_the_result_is_cached_until_a_trial_finishes(insight_run):
    from tuitune.store import RunStore

    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_insight(pilot, app)
        first = screen.computed
        assert first.insight.importance.params[0].name == "lr"
        await pilot.press("b")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InsightScreen), what="reopened")
        await pilot.pause(0.5)
        assert app.screen.computed is first  # reopened from the cache, nothing recomputed
        store = RunStore(insight_run)
        try:
            store.transition(32, "completed", "engine", "trial 32 completed", ended_at=1.0)
        finally:
            store.close()
        app.store_loop.wake()
        await wait_for(pilot, lambda: app.screen.computed is not first
                       and app.screen.computed.model_done, timeout=60, what="a recompute")
        assert len(app.screen.computed.insight.points) == len(first.insight.points) + 1


async def test_the_palette_lists_insight_and_opens_it(insight_run):
    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Insight" in commands
        commands["Insight"].callback()
        await wait_for(pilot, lambda: isinstance(app.screen, InsightScreen), what="the screen")


def test_compare_the_best_trials(snap_compare, insight_run):
    app = make_fixed_app(insight_run, gpus=2)

    async def run_before(pilot):
        screen = await open_insight(pilot, app)
        best = sorted((p for p in screen.computed.insight.points if p.value is not None),
                      key=lambda p: (p.loss, p.id))[:3]
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen",
                       what="the comparison")
        assert app.screen.trial_ids == [p.id for p in best]
        await wait_for(pilot, lambda: all((p.id, "val_loss") in app.view.curves for p in best),
                       what="their curves")
        app.screen.refresh_from_view(set())
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)
