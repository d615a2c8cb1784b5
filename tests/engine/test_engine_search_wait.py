"""A staged search (grid zoom) with three concurrent trials: its second stage waits
for the first stage's running trials instead of ending the search (issue #4).
Fake trials (tuitune/executors/fake.py): this is the search driver's logic."""

from __future__ import annotations

import re

from tests.support.fake_runs import fake_run, stepper


def test_grid_zoom_waits_for_running_trials_and_completes_its_second_round(tmp_path):
    # Three slots, four coarse points: the fourth starts only when a first one ends, so
    # it is still running (20 steps, a tick each) when the other two end: a wait.
    run = fake_run(tmp_path, stepper(), steps=20, strategy="grid", concurrent=3,
                   extra="points_per_dim = 2\nzoom = 1\n")
    sup, store = run.sup, run.store
    try:
        run.until(lambda: sup.finished, "the grid search")
        trials = store.trials()
        coarse, zoom = trials[:4], trials[4:]
        assert sup.finished.startswith("grid search done (1 zoom rounds)")
        assert all(t.state == "completed" for t in trials)
        # Round 1 was laid out once every coarse result was in, not before.
        last_coarse_end = max(t.ended_at for t in coarse)
        assert zoom and all(t.created_at >= last_coarse_end for t in zoom)
        # lr = 1 wins the coarse grid (loss 1 / (20 lr + 1)); the box is lr in [1e-2, 1].
        assert {round(t.params["lr"], 6) for t in coarse} == {1e-4, 1.0}
        assert {round(t.params["lr"], 6) for t in zoom} <= {0.01, 1.0}
        keys = [sup.spec.space.key(t.params) for t in trials]
        assert len(set(keys)) == len(keys)
        # The empty slot was explained once in the event log, not silently left empty.
        waits = [e.message for e in store.events() if e.kind == "waiting"]
        assert waits and all(
            re.fullmatch(r"search waits: zoom round 1 waits for \d running trials", m)
            for m in waits), waits
    finally:
        sup.close()
