"""The notify watch's bookkeeping (pure): new best, stalled trials, idle GPUs, each said
once per episode. The real-run tests (test_notify.py) cover the supervisor around it;
test_notify_gpu.py does for an idle GPU, over the fake NVML source."""

from __future__ import annotations

from tuitune.core.history import Objective
from tuitune.core.spec import NotifyConfig
from tuitune.engine.watch import Watch


def _watch(**kw) -> Watch:
    return Watch(NotifyConfig(**kw), Objective("loss", "min"))


def test_new_best_only_beats_earlier_finished_trials():
    w = _watch()
    w.baseline([(1, 0.5), (2, None)])
    assert w.new_best([(1, "completed", 0.5), (3, "running", 0.1)]) == []  # not finished
    said = w.new_best([(3, "completed", 0.4), (4, "pruned", 0.6)])
    assert [(s.trial_id, s.data["previous"]) for s in said] == [(3, 0.5)]
    assert w.new_best([(3, "completed", 0.4)]) == []  # judged once


def test_a_stall_is_said_once_and_again_after_new_reports():
    w = _watch(stall_after=10.0)
    assert w.stalled([(1, 0.0)], {1: 0}, now=5.0) == []
    assert [s.kind for s in w.stalled([(1, 0.0)], {1: 0}, now=11.0)] == ["stalled"]
    assert w.stalled([(1, 0.0)], {1: 0}, now=30.0) == []
    assert w.stalled([(1, 0.0)], {1: 3}, now=31.0) == []  # reported again
    assert [s.trial_id for s in w.stalled([(1, 0.0)], {1: 3}, now=42.0)] == [1]
    assert _watch(stall_after=None).stalled([(1, 0.0)], {1: 0}, now=1e6) == []


def test_an_idle_gpu_under_running_trials_is_said_once_per_episode():
    w = _watch(gpu_idle_after=60.0)
    busy = {0: [1, 2], 1: [3]}
    assert w.gpu_idle(busy, {0: 0.0, 1: 90.0}, now=0.0) == []
    said = w.gpu_idle(busy, {0: 1.0, 1: 90.0}, now=61.0)
    assert [(s.data["gpu"], s.data["trials"]) for s in said] == [(0, [1, 2])]
    assert w.gpu_idle(busy, {0: 0.0, 1: 90.0}, now=200.0) == []
    assert w.gpu_idle(busy, {0: 50.0, 1: 90.0}, now=201.0) == []  # busy again
    assert w.gpu_idle(busy, {0: 0.0}, now=202.0) == []
    assert len(w.gpu_idle(busy, {0: 0.0}, now=263.0)) == 1
    assert w.gpu_idle({}, {0: 0.0}, now=400.0) == []  # no trial on it: not news
