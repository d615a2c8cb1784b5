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
