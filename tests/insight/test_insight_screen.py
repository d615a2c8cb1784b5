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


async def test_enter_acts_on_the_advice_shown_selected_when_a_new_result_arrives(
        insight_run, monkeypatch):
    """A new result (the model's advice after the quick one, or a trial finishing)
    can put another advice where the selected one was, and the worker fills the cache
    before the screen draws it. Enter used to send the advice at the selected
    position of the cache's list: with one more advice in front, the one above the
    selected one (found while moving the zoom advice to the model's result)."""
    from dataclasses import replace

    from tuitune.insight.advice import Advice
    from tuitune.ui.screens import insight as insight_screen

    sent = []

    class Recorded(insight_screen.SendCommand):
        def __init__(self, kind, args):
            super().__init__(kind, args)
            sent.append((kind, args))

    monkeypatch.setattr(insight_screen, "SendCommand", Recorded)
    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_insight(pilot, app)
        first = screen.computed
        advice = first.insight.advice
        assert len({(a.command, str(a.args)) for a in advice[:2]}) == 2
        await pilot.press("down")
        chosen = (advice[1].command, dict(advice[1].args))
        extra = Advice("widen", "widen nothing", ("evidence",), (), "space",
                       {"ranges": {"lr": {"low": 1e-9, "high": 1.0}}})
        newer = replace(first, insight=replace(first.insight, advice=(extra, *advice)))
        insight_screen._CACHE[app] = newer  # cached by the worker, not drawn yet
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert sent[-1] == chosen
        screen.post_message(insight_screen.InsightRead(newer))  # now drawn
        await pilot.pause(0.2)
        assert screen.drawn is newer
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert sent[-1] == chosen and len(sent) == 2


async def test_the_hidden_run_screen_drawing_does_not_repaint_the_insight_screen(
        insight_run):
    """The run screen keeps drawing while the insight screen covers it; Textual
    repainted the insight screen's cells under every change there, so the screen
    sent 28 KB/s of unchanged cells with 16 trials reporting (bench_tui_cost.py
    --insight), against 2.5 KB/s on the run screen itself."""
    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_insight(pilot, app)
        run_screen = app.screen_stack[-2]
        repainted = []
        refresh = screen.refresh

        def counted(*regions, **kwargs):
            repainted.append(regions)
            return refresh(*regions, **kwargs)

        screen.refresh = counted
        for _ in range(3):
            run_screen.refresh()
            await pilot.pause(0.1)
        assert repainted == []


def test_the_selected_advice_and_its_evidence_are_shown_whole_at_80_columns():
    """At 80x24 the advice panel is 38 columns wide; each line was cut there, so the
    zoom's ranges and the evidence could not be read (seen in tmux on a quickstart
    run). Every advice keeps one line (cut with …); the selected one's evidence
    follows in full, wrapped."""
    from tuitune.insight.advice import Advice
    from tuitune.ui.screens.insight_draw import advice_text

    zoom = Advice("zoom", "zoom the search: lr in [0.63, 1.7]; batch_size in [16, 32]",
                  ("the best quarter (3 of 12 trials: #5, #2, #9) lies there",
                   "lr in [0.63, 1.7] (range was [0.003, 3]; explains 73% of the "
                   "variation)"),
                  (5, 2, 9), "space", {"ranges": {"lr": {"low": 0.63, "high": 1.7}}})
    fix = Advice("fix", "fix hidden at 17", ("it explains 2.8%",), (5,), "space",
                 {"fix": {"hidden": 17}})
    text = advice_text([zoom, fix], 0, 38).plain
    lines = text.splitlines()
    assert all(len(line) <= 38 for line in lines)
    assert lines[1:3] == ["› zoom the search: lr in [0.63, 1.7];…",
                          "  fix hidden at 17 [space]"]
    flat = " ".join(" ".join(lines[3:]).split())
    assert flat == " ".join(zoom.evidence)
    lines = advice_text([zoom, fix], 1, 38).plain.splitlines()
    assert lines[1:] == ["  zoom the search: lr in [0.63, 1.7];…",
                         "› fix hidden at 17 [space]", "    it explains 2.8%"]
    # With room for 5 lines, the rest of the evidence is left out, and marked so.
    lines = advice_text([zoom, fix], 0, 38, max_lines=5).plain.splitlines()
    assert len(lines) == 5 and lines[-1].endswith("…")


async def test_plus_and_minus_change_how_many_of_the_best_trials_are_drawn(insight_run):
    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_insight(pilot, app)
        await pilot.press("plus")
        await pilot.pause(0.1)
        shown = str(screen.query_one("#parallel").render())
        assert screen.n_best == 15 and shown.startswith("Parallel coordinates: best 15 ")
        await pilot.press("minus", "minus", "minus")
        await pilot.pause(0.1)
        shown = str(screen.query_one("#parallel").render())
        assert screen.n_best == 1 and shown.startswith("Parallel coordinates: best 1 ")


async def test_compare_takes_the_best_trials_drawn_not_a_result_cached_since(insight_run):
    """c compares the best trials of the result on screen; the worker may have cached a
    newer one (a trial finished) that the screen has not drawn yet."""
    from dataclasses import replace

    from tuitune.ui.screens import insight as insight_screen
    from tuitune.ui.screens.insight_compare import CompareScreen

    app = make_fixed_app(insight_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_insight(pilot, app)
        drawn = screen.drawn
        shown = sorted((p for p in drawn.insight.points if p.value is not None),
                       key=lambda p: (p.loss, p.id))[:3]
        # A newer result in the cache whose best three are others (the drawn best made worst).
        worse = [replace(p, loss=p.loss + 1e9) if p in shown else p
                 for p in drawn.insight.points]
        insight_screen._CACHE[app] = replace(drawn, insight=replace(drawn.insight,
                                                                   points=worse))
        await pilot.press("c")
        compare = await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                                 and app.screen, what="the comparison")
        assert compare.trial_ids == [p.id for p in shown if p.id > 0][:4]
