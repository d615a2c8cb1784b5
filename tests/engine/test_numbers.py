"""One rule for every number shown to a person (issue 14.2): tuitune/core/numfmt.py, used by
the CLI (client/summary.py) and the TUI (ui/fmt.py, ui/series.py) alike."""

from __future__ import annotations

import math

from tuitune.core import numfmt
from tuitune.client import summary
from tuitune.ui import fmt, series


def test_the_number_rule():
    assert numfmt.value(0.005000000000000001) == "0.005"
    assert numfmt.value(0.1 + 0.2) == "0.3"
    assert numfmt.value(0.000123456) == "0.0001235" and numfmt.value(1234567.0) == "1.235e6"
    assert numfmt.value(123456) == "123456"  # steps and counts are whole
    assert numfmt.value(math.inf) == "inf" and numfmt.value(math.nan) == "-"


def test_the_cli_and_the_tui_share_the_rule():
    assert fmt.value is numfmt.value
    assert series.nice_number is numfmt.nice_number
    assert summary.fmt(0.005000000000000001) == fmt.value(0.005000000000000001) == "0.005"


def test_a_column_of_measured_values_keeps_4_digits_and_lines_up_its_points():
    """Issue 14.2 named `0.554` next to `0.5906` in one column; `tuitune status` still
    showed `0.71` over `0.5434` (trailing zeros dropped, points a cell apart)."""
    assert numfmt.column_number(0.71) == "0.7100" and numfmt.column_number(12.0) == "12.00"
    assert numfmt.column_number(0.0001234, width=8) == "0.000123"  # narrower, not cropped
    assert numfmt.column_number(-0.001, width=8) == "-0.00100"
    assert numfmt.value(0.71) == "0.71"  # running text keeps dropping them (lr=0.3)
    rows = [[str(i), f"{v!r}", summary.measured(v)] for i, v in
            enumerate([0.71, 0.5434, 0.05547, 12.0], start=1)]
    head, *lines = summary._table(["id", "exact", "best"], rows).splitlines()
    points = {line.rindex(".") for line in lines}
    assert len(points) == 1, lines  # every decimal point in one column of the screen
    assert [line.split()[-1] for line in lines] == ["0.7100", "0.5434", "0.05547", "12.00"]


def test_export_keeps_every_value_exact(tmp_path):
    """The rule is for people: `export` (CSV and JSON) writes the values as stored."""
    import csv
    import io
    import json

    from tests.support.specs import write_spec
    from tuitune.core.spec import load_spec
    from tuitune.engine.runs import create_run
    from tuitune.store import RunStore

    spec = load_spec(write_spec(tmp_path / "exp", name="exact"))
    store = RunStore(create_run(spec, tmp_path / "runs"))
    try:
        lr, loss = 0.005000000000000001, 0.30000000000000004
        tid = store.create_trial({"lr": lr, "units": 8, "steps": 40, "sleep": 0.1},
                                 "manual", "user")
        store.add_metrics(tid, [(1, "loss", loss, 1.0)])
        rows = list(csv.DictReader(io.StringIO(summary.export_csv(store, spec))))
        assert float(rows[0]["lr"]) == lr and float(rows[0]["value"]) == loss
        assert rows[0]["lr"] == repr(lr)  # every digit, as stored
        exported = json.loads(summary.export_json(store, spec))
        assert repr(lr) in json.dumps(exported) and repr(loss) in json.dumps(exported)
    finally:
        store.close()
