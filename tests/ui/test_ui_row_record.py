"""The UI's row is the store's record plus what the model derives (issue 11, item 5):
no field of a trial is declared twice, so a column the store gains reaches the UI."""

from __future__ import annotations

import dataclasses

from ui_helpers import FixedClock

from tuitune.core.history import current_params
from tuitune.store import RunStore, TrialRecord
from tuitune.ui.factory import load_run_spec
from tuitune.ui.model import RunModel


def test_every_field_of_the_record_is_on_the_row_as_stored(fixed_run):
    model = RunModel(fixed_run, load_run_spec(fixed_run), FixedClock())
    try:
        rows = dict(model.poll().rows)
        while model.pending:
            rows.update(model.poll().rows)
    finally:
        model.close()
    store = RunStore(fixed_run)
    try:
        records = {t.id: t for t in store.trials()}
    finally:
        store.close()
    assert set(rows) == set(records)
    names = [f.name for f in dataclasses.fields(TrialRecord)]
    for tid, record in records.items():
        row = rows[tid]
        assert isinstance(row, TrialRecord)
        assert {n: getattr(row, n) for n in names} == {n: getattr(record, n) for n in names}
    # What the model adds: trial 1 was tweaked to lr=0.0005 at step 20.
    assert rows[1].params["lr"] == 0.001 and rows[1].current["lr"] == 0.0005
    assert rows[1].current == current_params(records[1].params, rows[1].changes)
