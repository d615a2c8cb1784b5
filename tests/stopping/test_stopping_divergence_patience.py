"""Divergence (NaN/inf, explosion) and patience."""

from __future__ import annotations

import pytest

from tuitune.core.history import History, Objective, TrialView
from tuitune.stopping import DivergenceRule, PatienceRule

NAN, INF = float("nan"), float("inf")


def run(rule, values: list[float], mode: str = "min", **kw) -> list:
    t = TrialView(id=7, state="running", params={}, curve=tuple(enumerate(values, 1)), **kw)
    return rule.decide(History(Objective("loss", mode), (t,)))


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_non_finite_diverges_at_once(bad: float, mode: str) -> None:
    (stop,) = run(DivergenceRule(), [1.0, bad], mode=mode)
    assert stop.state == "diverged" and stop.rule == "divergence"
    assert stop.details["step"] == 2 and stop.trial_id == 7


def test_non_finite_between_polls_still_counts() -> None:
    (stop,) = run(DivergenceRule(), [1.0, NAN, 0.9])
    assert stop.details["step"] == 2


def test_explosion_relative_to_first_value() -> None:
    assert run(DivergenceRule(), [2.0, 1.0, 20.0]) == []  # not over 10 x 2.0
    (stop,) = run(DivergenceRule(), [2.0, 1.0, 20.5])
    assert stop.state == "diverged"
    assert stop.details["threshold"] == 20.0 and stop.details["value"] == 20.5
    assert "over 10x its first value 2" in stop.reason


def test_explosion_relative_to_best_and_window() -> None:
    assert run(DivergenceRule(reference="first"), [2.0, 0.1, 1.5]) == []
    assert len(run(DivergenceRule(reference="best"), [2.0, 0.1, 1.5])) == 1
    assert run(DivergenceRule(window=2), [1.0, 11.0, 1.0, 11.0]) == []
    assert len(run(DivergenceRule(window=2), [1.0, 11.0, 12.0])) == 1


def test_explosion_only_for_positive_min_objectives() -> None:
    assert run(DivergenceRule(), [1.0, 100.0], mode="max") == []
    assert run(DivergenceRule(), [-1.0, 100.0]) == []


def test_divergence_spares_protected_trials() -> None:
    assert run(DivergenceRule(), [1.0, NAN], protected=True) == []


def test_patience_counts_reports_without_improvement() -> None:
    # Best 0.5 at step 2, then five reports that do not beat it.
    values = [0.9, 0.5, 0.6, 0.5, 0.7, 0.55]
    assert run(PatienceRule(patience=5), values) == []
    (stop,) = run(PatienceRule(patience=5), [*values, 0.51])
    assert stop.rule == "patience" and stop.state == "pruned"
    assert stop.details == {
        "step": 7,
        "value": 0.51,
        "threshold": 0.5,
        "best_step": 2,
        "patience": 5,
        "waited": 5,
        "min_delta": 0.0,
    }


def test_patience_min_delta_and_max_mode() -> None:
    creeping = [1.0, 0.99, 0.98, 0.97]
    assert run(PatienceRule(patience=3), creeping) == []
    assert len(run(PatienceRule(patience=3, min_delta=0.05), creeping)) == 1
    assert len(run(PatienceRule(patience=2), [0.5, 0.6, 0.4, 0.3], mode="max")) == 1
    assert run(PatienceRule(patience=2), [0.5, 0.6, 0.4, 0.7], mode="max") == []


def test_patience_spares_protected_trials() -> None:
    assert run(PatienceRule(patience=1), [0.1, 0.2, 0.3], protected=True) == []
