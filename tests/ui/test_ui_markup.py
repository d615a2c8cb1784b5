"""Text from the run is shown as it is, never read as markup: a note, a metric name, a
categorical value, a log line, an event, a toast holding `[/]`, `[bold]` or
`[link=...]` shows literally on every screen that shows it, and nothing crashes
(`[/]` raised MarkupError and took the app down; `[k]` silently vanished)."""

from __future__ import annotations

from textual.widgets import Input
from ui_helpers import build_fixed_run, burst, make_fixed_app, screen_text, settle, wait_for

from tuitune.engine.runs import trial_dir
from tuitune.store import RunStore
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.screens.dialogs import PickDialog
from tuitune.ui.screens.param_form import ParamForm

NOTE = "[/] n[bold]o[link=https://e.x]te"
METRIC = "[/]acc"
CHOICE = "[bold]c"
LOG = "[/] log [bold]line[/bold] [k]"
EVENT = "[/] event [link=https://e.x]x"
TOAST = "[/] toast [b]"


def _hostile_run(root):
    run_dir = build_fixed_run(root, choices=("sgd", "adam", CHOICE, "[/]"))
    store = RunStore(run_dir)
    try:
        tid = store.create_trial({"lr": 0.01, "units": 8, "opt": CHOICE}, "manual", "user")
        store.add_metrics(tid, [(s, "val_loss", 1.0 / s, 1.7e9) for s in range(1, 6)]
                          + [(s, METRIC, 0.5, 1.7e9) for s in range(1, 6)])
        store.transition(tid, "completed", "engine", f"trial {tid} completed",
                         started_at=1.7e9 - 100, ended_at=1.7e9 - 50)
        store.update_trial(tid, note=NOTE)
        store.add_event("note", "user", EVENT, trial_id=tid)
    finally:
        store.close()
    folder = trial_dir(run_dir, tid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log.txt").write_text(f"first\n{LOG}\n")
    return run_dir, tid


async def test_markup_like_text_is_shown_literally_everywhere(tmp_path):
    run_dir, tid = _hostile_run(tmp_path)
    app = make_fixed_app(run_dir)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await settle(pilot, app)
        home = app.screen
        burst(app, "end")
        await wait_for(pilot, lambda: home.table.cursor_id == tid, what="the hostile trial")
        row = next(ln for ln in screen_text(app).splitlines() if ln.split()[:1] == [str(tid)])
        assert CHOICE in row and NOTE in row, row  # the table: value and note
        app.notify(TOAST)
        await wait_for(pilot, lambda: any(TOAST in getattr(t.render(), "plain", "")
                                          for t in app.screen.query("Toast")), what="the toast")
        burst(app, "m")  # the chart's metric picker lists the metric by its name
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog)
                       and METRIC in screen_text(app), what="the metric name")
        burst(app, "escape", "c")  # the clone form: the value and the choices
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        await wait_for(pilot, lambda: form.query("#p-opt"), what="the form's fields")
        assert form.query_one("#p-opt", Input).value == CHOICE
        await wait_for(pilot, lambda: f"one of sgd, adam, {CHOICE}, [/]" in screen_text(app),
                       what="the choices")
        burst(app, "escape", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                       and NOTE in screen_text(app), what="the note in the title")
        for tab, text in (("2", CHOICE), ("3", LOG), ("4", EVENT)):
            burst(app, tab)
            await wait_for(pilot, lambda text=text: text in screen_text(app), what=repr(text))
        burst(app, "1", "m")  # the detail's metric pair picker
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        burst(app, "escape", "b", "ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        burst(app, "escape")
        await wait_for(pilot, lambda: app.screen is home)
        assert app.is_running
