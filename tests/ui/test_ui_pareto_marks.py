"""The trial table marks the Pareto front (◆) and infeasible trials (×) when a run
has several objectives or constraints (issue 17, items 2 and 3)."""

from __future__ import annotations

from tests.engine.test_multi_objective import MULTI, supervised
from tests.ui.test_ui_model import _model, _open
from tuitune.client import front
from tuitune.ui.widgets.columns import _mark, columns_for


def test_rows_carry_front_and_infeasible_marks(tmp_path):
    run = supervised(tmp_path, MULTI, strategy="random", concurrent=2, budget="max_trials = 8")
    try:
        run.until(lambda: run.sup.finished, "the run to finish")
        spec = run.sup.spec
        expected = {o.trial.id: front.marks(o) for o in front.outcomes(run.store, spec)}
    finally:
        run.finish()
    assert "front" in expected.values() and any(m.startswith("infeasible")
                                                 for m in expected.values())
    model, _ = _model(run.run_dir)
    try:
        rows = _open(model).rows
    finally:
        model.close()
    assert {tid: r.mark for tid, r in rows.items() if r.mark} == \
        {tid: m for tid, m in expected.items() if m}
    assert "mark" in [c.key for c in columns_for(spec)]
    cells = {r.mark: _mark(r, 1, None)[0][0] for r in rows.values()}
    assert cells["front"] == "◆"
    assert {c for m, c in cells.items() if m.startswith("infeasible")} == {"×"}


def test_no_mark_column_with_one_objective(tmp_path):
    from tests.engine.test_multi_objective import ONE, spec_file
    from tuitune.core.spec import load_spec

    assert "mark" not in [c.key for c in columns_for(load_spec(spec_file(tmp_path, ONE)))]
