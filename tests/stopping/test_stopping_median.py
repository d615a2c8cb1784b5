"""The median stopping rule: grace period, population size, statistic, direction."""

from __future__ import annotations

import math

from tuitune.core.history import History, Objective, TrialView
from tuitune.stopping import MedianRule


def trial(i: int, values: list[float], state: str = "running", **kw) -> TrialView:
    return TrialView(id=i, state=state, params={}, curve=tuple(enumerate(values, 1)), **kw)


def history(*trials: TrialView, mode: str = "min") -> History:
    return History(Objective("val_loss", mode), trials)


RIVALS = (  # running averages at step 3: 0.5, 0.6, 0.7 -> median 0.6
    trial(1, [0.6, 0.5, 0.4, 0.3], state="completed"),
    trial(2, [0.7, 0.6, 0.5], state="pruned"),
    trial(3, [0.8, 0.7, 0.6, 0.5]),
)


def test_stops_a_trial_worse_than_the_median_of_running_averages() -> None:
    (stop,) = MedianRule().decide(history(*RIVALS, trial(4, [0.9, 0.8, 0.65])))
    assert stop.trial_id == 4 and stop.rule == "median" and stop.state == "pruned"
    assert stop.details["step"] == 3 and stop.details["population"] == 3
    assert math.isclose(stop.details["threshold"], 0.6)
    assert stop.details["value"] == 0.65
    assert "median 0.6 of 3 trials' running averages" in stop.reason


def test_ties_and_better_continue() -> None:
    assert MedianRule().decide(history(*RIVALS, trial(4, [0.9, 0.8, 0.6]))) == []


def test_best_statistic_compares_rivals_best_so_far() -> None:
    # Rivals' best at step 3: 0.4, 0.5, 0.6 -> median 0.5; 0.55 beats the mean rule's 0.6.
    late = trial(4, [0.9, 0.8, 0.55])
    assert MedianRule(statistic="mean").decide(history(*RIVALS, late)) == []
    (stop,) = MedianRule(statistic="best").decide(history(*RIVALS, late))
    assert stop.details["threshold"] == 0.5


def test_grace_period_and_min_trials() -> None:
    bad = trial(4, [0.9, 0.9, 0.9])
    assert MedianRule(grace_steps=4).decide(history(*RIVALS, bad)) == []
    assert MedianRule(min_steps=4).decide(history(*RIVALS, bad)) == []  # the alias
    assert MedianRule(min_trials=4).decide(history(*RIVALS, bad)) == []
    # Only trials that reached the step are rivals: at step 4, two of them.
    longer = trial(4, [0.9, 0.9, 0.9, 0.9])
    assert MedianRule(min_trials=3).decide(history(*RIVALS, longer)) == []
    assert len(MedianRule(min_trials=2).decide(history(*RIVALS, longer))) == 1


def test_max_objective() -> None:
    flipped = [
        TrialView(id=t.id, state=t.state, params={}, curve=tuple((s, -v) for s, v in t.curve))
        for t in RIVALS
    ]
    (stop,) = MedianRule().decide(history(*flipped, trial(4, [-0.9, -0.8, -0.65]), mode="max"))
    assert math.isclose(stop.details["threshold"], -0.6) and stop.details["value"] == -0.65


def test_protected_and_finished_trials_are_never_stopped() -> None:
    assert MedianRule().decide(history(*RIVALS, trial(4, [0.9] * 3, protected=True))) == []
    assert MedianRule().decide(history(*RIVALS, trial(4, [0.9] * 3, state="completed"))) == []


def test_nan_rival_ranks_last_and_nan_trial_is_left_to_divergence() -> None:
    rivals = (*RIVALS[:2], trial(3, [0.8, float("nan"), 0.6]))
    # Rival averages 0.5, 0.6, inf -> median 0.6.
    (stop,) = MedianRule().decide(history(*rivals, trial(4, [0.9, 0.8, 0.65])))
    assert math.isclose(stop.details["threshold"], 0.6)
    assert MedianRule().decide(history(*RIVALS, trial(4, [float("nan")] * 3))) == []


def test_judges_each_step_once() -> None:
    rule = MedianRule()
    h = history(*RIVALS, trial(4, [0.9, 0.8, 0.65]))
    assert len(rule.decide(h)) == 1
    assert rule.decide(h) == []  # nothing new arrived
