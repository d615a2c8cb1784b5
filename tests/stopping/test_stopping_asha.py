"""ASHA and Hyperband: exact promotions and stops for fixed schedules."""

from __future__ import annotations

from collections import Counter

import pytest

from tuitune.core.history import History, Objective, TrialView
from tuitune.stopping import ASHA, Hyperband, hyperband_brackets


class Run:
    """Replays metric points in a fixed order, as the engine would see them."""

    def __init__(self, rule, mode: str = "min", max_steps: int | None = 27) -> None:
        self.rule, self.mode, self.max_steps = rule, mode, max_steps
        self.curves: dict[int, list[tuple[int, float]]] = {}
        self.states: dict[int, str] = {}
        self.stops: list[tuple[int, int]] = []

    def report(self, trial_id: int, *points: tuple[int, float]) -> list:
        sign = 1 if self.mode == "min" else -1
        self.curves.setdefault(trial_id, []).extend((s, sign * v) for s, v in points)
        self.states.setdefault(trial_id, "running")
        decisions = self.rule.decide(self.history())
        for d in decisions:
            self.states[d.trial_id] = "pruned"  # the engine acts on it
            self.stops.append((d.trial_id, d.details["rung"]))
        return decisions

    def history(self) -> History:
        trials = tuple(
            TrialView(id=i, state=self.states[i], params={}, curve=tuple(c))
            for i, c in self.curves.items()
        )
        return History(Objective("val_loss", self.mode), trials, max_steps=self.max_steps)


def replay(run: Run) -> list[tuple[int, int]]:
    run.report(1, (1, 0.50))  # alone at rung 1: continues
    run.report(2, (1, 0.60))  # 2 at rung 1, keep 1 (0.50): stops
    run.report(3, (1, 0.40))  # new best: continues
    run.report(4, (1, 0.40))  # ties the threshold: continues
    run.report(5, (1, 0.45))  # keep 1 of 5 (0.40): stops
    run.report(6, (1, 0.30))  # keep 2 of 6: continues
    run.report(1, (2, 0.45), (3, 0.44))  # rung 2 (step 3), alone: continues
    run.report(3, (2, 0.36), (3, 0.35))  # keep 1 of 2 (0.35): continues
    run.report(4, (2, 0.39), (3, 0.38))  # keep 1 of 3 (0.35): stops at rung 2
    run.report(6, (2, 0.25), (3, 0.20))  # continues
    run.report(7, (1, 0.55))  # keep 2 of 7 (0.40): stops
    run.report(1, (9, 0.43))  # jumps to rung 3 (step 9), alone: continues
    run.report(3, (9, 0.33))
    run.report(6, (9, 0.10))
    run.report(8, (1, 0.29), (2, 0.4), (3, 0.5))  # passes rung 1, stops at rung 2
    run.report(1, (27, 0.42))  # step 27 is completion: never judged
    return run.stops


def test_rungs_for_eta3_min1_max27() -> None:
    assert ASHA(min_steps=1, reduction_factor=3, max_steps=27).rungs() == [1, 3, 9, 27]
    assert ASHA(min_steps=2, reduction_factor=2, max_steps=20).rungs() == [2, 4, 8, 16]


def test_asha_fixed_schedule_stops_exactly() -> None:
    assert replay(Run(ASHA())) == [(2, 1), (5, 1), (4, 2), (7, 1), (8, 2)]


def test_asha_max_objective_mirrors_min() -> None:
    assert replay(Run(ASHA(), mode="max")) == [(2, 1), (5, 1), (4, 2), (7, 1), (8, 2)]


def test_asha_stop_explains_rung_threshold_and_value() -> None:
    run = Run(ASHA())
    run.report(1, (1, 0.5))
    (stop,) = run.report(2, (1, 0.6))
    assert stop.rule == "asha" and stop.state == "pruned"
    assert stop.details["rung"] == 1 and stop.details["step"] == 1
    assert stop.details["threshold"] == 0.5 and stop.details["value"] == 0.6
    assert stop.details["population"] == 2 and stop.details["rank"] == 2
    assert stop.reason == "ASHA rung 1 (step 1): val_loss 0.6 not in top 1/3 of 2 (threshold 0.5)"


def test_asha_judges_a_rung_once_never_retroactively() -> None:
    run = Run(ASHA())
    run.report(1, (1, 0.9))
    for i in range(2, 8):  # better trials arrive later; trial 1 already passed rung 1
        run.report(i, (1, 0.1 * i / 10))
    run.report(1, (2, 0.9))
    assert 1 not in [t for t, _ in run.stops]
    assert run.states[1] == "running"


def test_asha_includes_finished_hand_trials_in_rung_population() -> None:
    hand = TrialView(id=1, state="completed", params={}, origin="manual", curve=((1, 0.1),))
    new = TrialView(id=2, state="running", params={}, curve=((1, 0.2),))
    (stop,) = ASHA().decide(History(Objective("loss"), (hand, new), max_steps=27))
    assert stop.trial_id == 2 and stop.details["threshold"] == 0.1


def test_asha_never_stops_protected_and_unprotecting_counts_from_next_rung() -> None:
    rule = ASHA()
    best = TrialView(id=1, state="running", params={}, curve=((1, 0.1), (3, 0.1)))
    weak = TrialView(id=2, state="running", params={}, curve=((1, 0.9),), protected=True)
    objective = Objective("loss")
    assert rule.decide(History(objective, (best, weak), max_steps=27)) == []
    weak = TrialView(id=2, state="running", params={}, curve=((1, 0.9), (2, 0.9)))
    assert rule.decide(History(objective, (best, weak), max_steps=27)) == []
    weak = TrialView(id=2, state="running", params={}, curve=((1, 0.9), (2, 0.9), (3, 0.8)))
    (stop,) = rule.decide(History(objective, (best, weak), max_steps=27))
    assert stop.trial_id == 2 and stop.details["rung"] == 2


def test_asha_ignores_trials_that_are_not_running() -> None:
    a = TrialView(id=1, state="running", params={}, curve=((1, 0.1),))
    b = TrialView(id=2, state="killed", params={}, curve=((1, 0.9),))
    assert ASHA().decide(History(Objective("loss"), (a, b), max_steps=27)) == []


def test_asha_max_steps_falls_back_to_history_then_unbounded() -> None:
    a = TrialView(id=1, state="running", params={}, curve=((81, 0.1),))
    b = TrialView(id=2, state="running", params={}, curve=((81, 0.9),))
    # With max_steps 81, step 81 is completion: only rungs 1..27 are judged and
    # neither trial reported before 81, so each sees its own step-81 value there.
    rule = ASHA()
    stops = rule.decide(History(Objective("loss"), (a, b), max_steps=81))
    assert [(s.trial_id, s.details["rung"]) for s in stops] == [(2, 1)]
    stops = ASHA().decide(History(Objective("loss"), (a, b), max_steps=None))
    assert [(s.trial_id, s.details["rung"]) for s in stops] == [(2, 1)]
    rule = ASHA(min_steps=81)  # unbounded rungs: 81 is a rung, not completion
    stops = rule.decide(History(Objective("loss"), (a, b), max_steps=None))
    assert [(s.trial_id, s.details["step"]) for s in stops] == [(2, 81)]


def test_asha_min_trials_waits_for_a_populated_rung() -> None:
    run = Run(ASHA(min_trials=3))
    run.report(1, (1, 0.1))
    run.report(2, (1, 0.9))  # only 2 at the rung: judged, but not stopped
    run.report(3, (1, 0.8))
    assert run.stops == [(3, 1)]


@pytest.mark.parametrize(
    ("min_steps", "max_steps", "eta", "expected"),
    [
        # Li et al. 2018, Table 1 (R = 81, eta = 3): n_i = 81, 34, 15, 8, 5.
        (1, 81, 3, [(1, 81), (3, 34), (9, 15), (27, 8), (81, 5)]),
        (1, 27, 3, [(1, 27), (3, 12), (9, 6), (27, 4)]),
        (1, 16, 2, [(1, 16), (2, 10), (4, 7), (8, 5), (16, 5)]),
        # max/min = 10 is not a power of eta: s_max = 2, brackets from 30/9, 30/3, 30.
        (3, 30, 3, [(3, 9), (10, 5), (30, 3)]),
        (1, 12, 3, [(1, 9), (4, 5), (12, 3)]),
    ],
)
def test_hyperband_bracket_sizes(min_steps, max_steps, eta, expected) -> None:
    assert hyperband_brackets(min_steps, max_steps, eta) == expected


def test_hyperband_deals_brackets_by_id_in_proportion_to_sizes() -> None:
    rule = Hyperband(min_steps=1, reduction_factor=3, max_steps=27)
    counts = Counter(rule.bracket_of(i) for i in range(49))
    assert counts == {0: 27, 1: 12, 2: 6, 3: 4}
    assert [rule.bracket_of(i) for i in range(6)] == [0, 1, 0, 2, 0, 3]  # smooth WRR
    assert rule.bracket_of(7) == rule.bracket_of(7 + 49)


def test_hyperband_judges_within_a_bracket_with_its_rungs() -> None:
    rule = Hyperband(min_steps=1, reduction_factor=3, max_steps=27)
    ids = {b: [i for i in range(1, 60) if rule.bracket_of(i) == b][:2] for b in range(4)}
    objective = Objective("loss")

    def pair(bracket: int, steps: list[int]) -> tuple[TrialView, TrialView]:
        good, bad = ids[bracket]
        return (
            TrialView(id=good, state="running", params={}, curve=tuple((s, 0.1) for s in steps)),
            TrialView(id=bad, state="running", params={}, curve=tuple((s, 0.9) for s in steps)),
        )

    # Bracket 0 judges step 1; bracket 1 does not (its first rung is step 3).
    trials = pair(0, [1]) + pair(1, [1, 2])
    (stop,) = rule.decide(History(objective, trials, max_steps=27))
    assert stop.trial_id == ids[0][1] and stop.details["bracket"] == 0
    assert stop.reason.startswith("Hyperband bracket 0 rung 1 (step 1)")
    (stop,) = rule.decide(History(objective, pair(1, [1, 2, 3]), max_steps=27))
    assert stop.trial_id == ids[1][1] and stop.details["step"] == 3
    # The last bracket starts at max_steps: it never stops anything.
    assert rule.decide(History(objective, pair(3, list(range(1, 27))), max_steps=27)) == []


def test_hyperband_last_bracket_never_stops_when_the_budget_is_not_a_power_of_eta() -> None:
    """12 epochs, eta 3 (the real-curve recordings): the last bracket is plain random
    search's slot, so its trials all run to the end, however bad."""
    rule = Hyperband(min_steps=1, reduction_factor=3, max_steps=12)
    last = len(rule.brackets) - 1
    good, bad = [i for i in range(1, 60) if rule.bracket_of(i) == last][:2]
    trials = tuple(TrialView(id=i, state="running", params={},
                             curve=tuple((s, v) for s in range(1, 12)))
                   for i, v in ((good, 0.1), (bad, 0.9)))
    assert rule.decide(History(Objective("loss"), trials, max_steps=12)) == []


def test_hyperband_needs_max_steps() -> None:
    with pytest.raises(ValueError, match="hyperband: needs max_steps"):
        Hyperband()
