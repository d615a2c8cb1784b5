"""`I` lists the trials a warm start imported (engine/warm_start.py's own record)."""

from __future__ import annotations

from textual.widgets import Static
from ui_helpers import build_fixed_run, make_app, settle, wait_for

from tuitune.core.spec import load_spec_json
from tuitune.engine.warm_start import META_KEY, gather
from tuitune.store import RunStore
from tuitune.ui.screens.imported import ImportedScreen
from tuitune.ui.widgets.chart import Chart


def _warm_started(tmp_path) -> tuple:
    """A fixed run given another's 6 trials as a warm start would: (this run, the other
    run, the warm start's record)."""
    here = build_fixed_run(tmp_path / "here")
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    store = RunStore(here)
    try:
        record = gather(load_spec_json(store.meta(["spec"])["spec"]), [other])
        store.set_meta(**{META_KEY: record})
    finally:
        store.close()
    return here, other, record


async def test_imported_trials_on_request(tmp_path):
    here, other, record = _warm_started(tmp_path)
    assert record["imported"]
    app = make_app(here)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("I")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, ImportedScreen)
                                and app.screen, what="the imported trials")
        text = str(screen.query_one("#imported", Static).render())
        n = len(record["imported"])
        assert f"warm start: {n} trial" in text and text.count(f"{other.name} trial") == (
            n + len(record["refused"]))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportedScreen))

        # On request (I, then t) they are rows of the table too: ids -1, -2..., origin
        # imported, the source as the note; not counted in the header's budget.
        table, header = app.screen.table, app.view.header
        own = set(table.order)
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportedScreen))
        await pilot.press("t")
        await wait_for(pilot, lambda: len(table.order) == len(own) + n, what="imported rows")
        # Below the run's own trials, in the I list's order (-1, -2, ...).
        assert table.order[-n:] == list(range(-1, -n - 1, -1)), table.order
        row = table._rows[-1]
        assert row.origin == "imported" and row.note.startswith(f"from {other.name} trial")
        assert app.view.header.budget_used == header.budget_used
        # Not trials of this run: hand actions and the detail screen say so, send nothing.
        table.select(-1)
        await settle(pilot, app)
        assert table.cursor_id == -1
        await pilot.press("k")
        await settle(pilot, app)
        said = [str(n.message) for n in app._notifications]
        assert any("cannot kill trial -1: a warm start imported it" in m for m in said), said
        await pilot.press("enter")
        await settle(pilot, app)
        assert type(app.screen).__name__ == "RunScreen"  # no detail screen, no dialog
        said = [str(n.message) for n in app._notifications]
        assert any("trial -1 was imported by a warm start" in m for m in said), said
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportedScreen))
        await pilot.press("t")
        await wait_for(pilot, lambda: set(table.order) == own, what="the imported hidden")


def test_the_insight_counts_the_imported_trials(tmp_path):
    """Imported trials inform the insight (importance, best trials) as the search."""
    from tuitune.client.insight_feed import run_insight

    here = build_fixed_run(tmp_path / "here")
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    store = RunStore(here)
    try:
        spec = load_spec_json(store.meta(["spec"])["spec"])
        own, _, _ = run_insight(store, spec, with_model=False)
        record = gather(spec, [other])
        store.set_meta(**{META_KEY: record})
        insight, _, history = run_insight(store, spec, with_model=False)
    finally:
        store.close()
    n = len(record["imported"])
    imported = [t for t in history.trials if t.id < 0]
    assert n and len(imported) == n and {t.origin for t in imported} == {"imported"}
    assert insight.to_json()["trials"] == own.to_json()["trials"] + n


async def test_the_insight_screen_says_how_many_were_imported(tmp_path):
    here, _, record = _warm_started(tmp_path)
    app = make_app(here)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("i")
        title = await wait_for(pilot, lambda: "imported" in (t := str(
            app.screen.query_one("#insight-title", Static).render())) and t, timeout=60,
            what="the insight's title")
        assert f"({len(record['imported'])} imported)" in title
