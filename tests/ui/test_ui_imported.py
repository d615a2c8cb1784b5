"""`I` lists the trials a warm start imported (engine/warm_start.py's own record)."""

from __future__ import annotations

from textual.widgets import Static
from ui_helpers import build_fixed_run, make_app, settle, wait_for

from tuitune.core.spec import load_spec_json
from tuitune.engine.warm_start import META_KEY, gather
from tuitune.store import RunStore
from tuitune.ui.screens.imported import ImportedScreen


async def test_imported_trials_on_request(tmp_path):
    here = build_fixed_run(tmp_path / "here")
    other = build_fixed_run(tmp_path / "other", n_trials=6)
    store = RunStore(here)
    try:
        record = gather(load_spec_json(store.meta(["spec"])["spec"]), [other])
        store.set_meta(**{META_KEY: record})
    finally:
        store.close()
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
