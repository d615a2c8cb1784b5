"""The run screen at 80x24 (issue 14): every searched parameter on screen, with a
note; the active filter, sort and count on a line of its own, Esc clears it."""

from __future__ import annotations

import pytest
from ui_helpers import build_fixed_run, make_fixed_app, screen_text, settle, wait_for

from tuitune.core.spec import load_spec
from tuitune.ui.widgets.columns import columns_for, fit_columns, short_names

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def four_param_run(tmp_path):
    return build_fixed_run(tmp_path, weight_decay=True)  # lr, units, opt, weight_decay


def _table_lines(app) -> list[str]:
    """The header row of the table and its rows (before the chart)."""
    lines = screen_text(app).splitlines()
    start = next(i for i, line in enumerate(lines) if "state" in line and "id" in line)
    return lines[start:start + 11]


async def test_80x24_shows_every_parameter_beside_a_note(four_param_run):
    app = make_fixed_app(four_param_run)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        head, *rows = _table_lines(app)
        for title in ("lr", "units", "opt", "wd", "note"):
            assert f" {title}" in head, (title, head)
        assert "elapsed" not in head  # dropped before any parameter
        trial3 = next(r for r in rows if r.split()[1:2] == ["3"])  # "*   3  running ..."
        assert "lr too high?" in trial3 and " 24 " in trial3 and " sgd " in trial3, trial3
        trial2 = next(r for r in rows if r.split()[:1] == ["2"])
        # 1.234567e-6 * 2.7 = 3.3333e-6: '3.333e-6' is wider than the cell, so 3 digits
        assert " 3.33e-6 " in trial2, trial2
        trial5 = next(r for r in rows if r.split()[:1] == ["5"])
        assert " 6.56e-5 " in trial5, trial5
        assert "…" not in " ".join(rows)
        assert app.screen.table.tooltip == "Columns: wd = weight_decay"


async def test_filter_line_shows_filter_sort_count_and_esc_clears(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert "filter:" not in screen_text(app)
        await pilot.press("slash", *"clone", "enter")
        await wait_for(pilot, lambda: len(app.screen.table.order) == 1, what="the filter")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "filter: text 'clone' · sort: id ▲ · 1 of 13 shown" in text, text
        await pilot.press("f", "o")  # a state filter and a sort join the line
        await pilot.pause(0.2)
        assert "filter: active, text 'clone' · sort: best ▲ · 1 of 13 shown" in screen_text(app)
        await pilot.press("escape")  # in the table: clears the filter, keeps the sort
        await wait_for(pilot, lambda: len(app.screen.table.order) == 13, what="all rows")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "filter:" not in text and "sort: best ▲ · 13 of 13 shown" in text, text


def test_short_names_one_rule():
    names = ["lr", "learning_rate", "batch_size", "weight_decay", "momentum",
             "dropout", "regularization", "batch_sz_x", "bs"]
    short = short_names(names)
    assert short == {"lr": "lr", "learning_rate": "lr2", "batch_size": "bs2",
                     "weight_decay": "wd", "momentum": "momentum", "dropout": "dropout",
                     "regularization": "regular.", "batch_sz_x": "bsx", "bs": "bs"}
    assert len(set(short.values())) == len(names)


def test_quickstart_at_80_columns_keeps_every_parameter(tmp_path):
    from pathlib import Path

    spec = load_spec(Path(__file__).parents[2] / "sample_specs" / "quickstart.toml")
    for has_notes in (False, True):
        keys = [c.key for c, _ in fit_columns(columns_for(spec), 80, has_notes)]
        for name in ("lr", "hidden", "batch_size"):
            assert f"param:{name}" in keys, (has_notes, keys)
        assert "elapsed" not in keys
        assert ("note" in keys) == has_notes


def test_metric_cells_keep_4_digits_and_are_never_cropped(tmp_path):
    """Issue 14.2: `0.71` stood over `0.5434` in the table's best and latest columns, and a
    value such as 0.0001234 was cropped to `0.000123…` (9 characters in 8 cells)."""
    from tuitune.core.spec import load_spec_json
    from tuitune.store import RunStore
    from tuitune.ui.records import TrialRow

    run_dir = build_fixed_run(tmp_path)
    store = RunStore(run_dir, readonly=True)
    try:
        record, spec = store.trials()[0], load_spec_json(store.meta(["spec"])["spec"])
    finally:
        store.close()
    cols = {c.key: c for c in columns_for(spec)}

    def shown(attr: str, value: float) -> str:
        row = TrialRow.of(record, current=record.params, **{attr: value})
        col = cols[attr]
        return "".join(text for text, _ in col.cell(row, col.width, None))

    assert shown("best", 0.71) == "  0.7100" and shown("latest", 0.5434) == "  0.5434"
    assert shown("best", 0.0001234) == "0.000123" and shown("latest", -0.001) == "-0.00100"
    assert "…" not in shown("best", -0.0001234)


async def test_the_points_of_latest_and_best_line_up_over_the_rows_on_screen(tmp_path):
    """4 digits alone left `0.09226` over `0.5184` a cell apart (seen in tmux with LANG=C:
    one run's best a decade below the others'): the cells on screen are padded so that
    their decimal points stand in one column, as the CLI's tables line them up."""
    from dataclasses import replace

    run_dir = build_fixed_run(tmp_path)
    app = make_fixed_app(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        rows = dict(app.view.rows)
        rows[5] = replace(rows[5], best=0.09226, latest=0.1)
        rows[6] = replace(rows[6], best=12.0, latest=0.0001234)
        app.screen.table.set_rows(rows, changed=None)
        await pilot.pause(0.3)
        head, *lines = _table_lines(app)
        shown = {int(line[:6].replace("*", " ").replace("!", " ").split()[0]): line
                 for line in lines if line[:6].strip()}
        end = head.index("best") + len("best")
        bests = {tid: line[end - 8:end] for tid, line in shown.items()}
        assert bests[5].strip() == "0.09226" and bests[6].strip() == "12.00"
        points = {cell.index(".") for cell in bests.values() if "." in cell}
        assert len(points) == 1, bests
        latest = head.index("latest") + len("latest")
        assert shown[6][latest - 8:latest].strip() == "0.000123"  # never cropped
