"""Reattach remembers the view (issue 14, item 7): sort, filters, chart metric, log
scale and smoothing are kept per run and restored on the next attach; a bad, foreign
or unreadable file gives the defaults, without a traceback."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ui_helpers import make_fixed_app, settle, wait_for

from tuitune.ui.screens.dialogs import PickDialog
from tuitune.ui.view_memory import FILE_NAME, TableState, ViewSettings, load, save
from tuitune.ui.widgets.trial_table import SORTS, STATE_FILTERS

pytestmark = pytest.mark.usefixtures("utc")


async def _attach_and_read(run_dir):
    """Open the TUI on the run, read the run screen's settings, detach with q."""
    app = make_fixed_app(run_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        found = (screen.table.state, screen.metric, screen.log_y, screen.smooth,
                 list(screen.table.order))
        await pilot.press("q")
    return found


async def test_sort_filter_metric_and_smoothing_survive_a_reattach(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        # Sort by best, reversed; only running trials; those with "adam"; chart loss,
        # smoothed, on a log scale. Sent as one burst, as over a laggy link.
        await pilot.press("o", "O", "f", "f", "slash", *"adam", "enter", "w", "l", "m")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, PickDialog)
                                and app.screen, what="the metric picker")
        await pilot.press("home", *["down"] * dialog.choices.index("loss"), "enter")
        await wait_for(pilot, lambda: app.screen.metric == "loss", what="the metric")
        shown = list(app.screen.table.order)
        assert shown  # the filter keeps some rows
        await pilot.press("q")  # detach: the TUI ends, the run goes on
    path = fixed_run / FILE_NAME
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()

    state, metric, log_y, smooth, order = await _attach_and_read(fixed_run)
    assert state == TableState("best", True, "running", "adam")
    assert (metric, log_y, smooth) == ("loss", True, True)
    assert order == shown


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"", b"null",
    json.dumps({"table": {"sort": "no-such-column", "descending": "yes", "state_filter": 3,
                          "text_filter": ["x"]}, "metric": {"a": 1}, "smooth": 1}).encode(),
    json.dumps({"table": [1], "metric": "a\x1b[31m", "log_y": None}).encode(),
    b'{"metric": "' + b"x" * 5000 + b'"}',
], ids=["broken", "binary", "list", "empty", "null", "wrong-types", "wrong-shape",
         "too-big"])
async def test_a_bad_file_opens_with_the_defaults(fixed_run, content):
    (fixed_run / FILE_NAME).write_bytes(content)
    os.chmod(fixed_run / FILE_NAME, 0o600)
    state, metric, log_y, smooth, order = await _attach_and_read(fixed_run)
    assert state == TableState()
    assert (metric, log_y, smooth) == ("val_loss", False, False)
    assert order == sorted(order)


def _kept(run_dir, sort: str) -> None:
    assert save(run_dir, ViewSettings(TableState(sort=sort)))


def test_one_bad_value_spoils_only_itself(tmp_path):
    (tmp_path / FILE_NAME).write_text(json.dumps(
        {"table": {"sort": "best", "descending": "no"}, "metric": "loss", "smooth": True}))
    os.chmod(tmp_path / FILE_NAME, 0o600)
    assert load(tmp_path, SORTS, STATE_FILTERS) == ViewSettings(
        TableState(sort="best"), metric="loss", smooth=True)


def test_a_file_another_user_could_have_written_is_not_read(tmp_path):
    _kept(tmp_path, sort="best")
    path = tmp_path / FILE_NAME
    assert load(tmp_path, SORTS, STATE_FILTERS).table.sort == "best"
    os.chmod(path, 0o620)  # group-writable
    assert load(tmp_path, SORTS, STATE_FILTERS) == ViewSettings()
    os.chmod(path, 0o600)
    if os.geteuid() == 0:  # root can give the file away; others cannot test this
        os.chown(path, 65534, 65534)
        assert load(tmp_path, SORTS, STATE_FILTERS) == ViewSettings()
        os.chown(path, 0, 0)
    os.rename(path, tmp_path / "elsewhere.json")
    os.symlink(tmp_path / "elsewhere.json", path)  # a link is not followed
    assert load(tmp_path, SORTS, STATE_FILTERS) == ViewSettings()


def test_an_unwritable_folder_keeps_nothing_and_raises_nothing(tmp_path):
    folder = tmp_path / "gone"
    assert save(folder, ViewSettings(metric="loss")) is False
    assert not folder.exists()


async def test_typing_a_filter_writes_the_view_once_not_per_key(fixed_run, monkeypatch):
    """The rows follow each key typed in the filter box, but the view file is written
    on the UI thread, so only when the box closes (Enter or Esc), not once per key."""
    import tuitune.ui.app as app_module

    writes: list[str] = []
    real_save = app_module.save_view_settings

    def counted(run_dir, settings):
        writes.append(settings.table.text_filter)
        return real_save(run_dir, settings)

    monkeypatch.setattr(app_module, "save_view_settings", counted)
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"adam")
        await wait_for(pilot, lambda: app.screen.table.state.text_filter == "adam",
                       what="the rows filtered as typed")
        assert writes == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: writes, what="the view kept when the box closes")
        assert writes == ["adam"]
        await pilot.press("slash", *"xy", "enter")
        await wait_for(pilot, lambda: len(writes) == 2, what="the view kept on Enter")
        assert writes == ["adam", "xy"]  # the prefill is selected, so typing replaces it
        await pilot.press("q")
    assert load(fixed_run, SORTS, STATE_FILTERS).table.text_filter == "xy"
