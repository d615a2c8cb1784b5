"""A staged search (grid zoom) with two concurrent trials: its second stage waits
for the first stage's running trials instead of ending the search (issue #4)."""

from __future__ import annotations

from tuitune.engine.runs import create_run
from tuitune.engine.supervisor import Supervisor
from tuitune.spec import load_spec

from .helpers import wait_for, write_spec


def test_grid_zoom_waits_for_running_trials_and_completes_its_second_round(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp", steps=3, sleep=0.05, strategy="grid", concurrent=2,
                      extra="points_per_dim = 2\nzoom = 1\n")
    sup = Supervisor(create_run(load_spec(spec), tt_home / "runs"))
    sup.register()
    store = sup.store
    try:
        wait_for(lambda: (sup.tick(), sup.finished)[1], timeout=90, what="the grid search")
        trials = store.trials()
        coarse, zoom = trials[:4], trials[4:]
        assert sup.finished.startswith("grid search done (1 zoom rounds)")
        assert all(t.state == "completed" for t in trials)
        # Round 1 was laid out once every coarse result was in, not before.
        last_coarse_end = max(t.ended_at for t in coarse)
        assert zoom and all(t.created_at >= last_coarse_end for t in zoom)
        # lr = 1 wins the coarse grid (loss 1 / (3 lr + 1)); the box is lr in [1e-2, 1].
        assert {round(t.params["lr"], 6) for t in coarse} == {1e-4, 1.0}
        assert {round(t.params["lr"], 6) for t in zoom} <= {0.01, 1.0}
        keys = [sup.spec.space.key(t.params) for t in trials]
        assert len(set(keys)) == len(keys)
    finally:
        sup.close()
