"""The learning-curve prediction rule: extrapolation, the top-k test, what it explains,
protection, direction, and options."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuitune.core.history import History, Objective, TrialView
from tuitune.core.space import FloatParam, Space
from tuitune.stopping import PredictRule, make_rules
from tuitune.stopping.predict import extrapolate

T = 27
SPACE = Space((FloatParam("lr", low=1e-4, high=1.0, log=True),))


def curve(fn, steps, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return tuple((int(s), float(fn(s) + rng.normal(0, noise))) for s in steps)


def trial(i, points, state="running", **kw) -> TrialView:
    return TrialView(id=i, state=state, params={}, curve=tuple(points), **kw)


def history(*trials, mode="min") -> History:
    return History(Objective("val_loss", mode), trials, max_steps=T)


def finished(i, final) -> TrialView:
    """A trial that ran to the horizon and ended at `final`."""
    return trial(i, curve(lambda s: final + 0.8 / s, range(1, T + 1)), state="completed")


TOP = (finished(1, 0.20), finished(2, 0.22), finished(3, 0.25), finished(4, 0.40))


@pytest.mark.parametrize(("fn", "name"), [
    (lambda t: 0.2 + 1.0 * t ** -0.7, "power law"),
    (lambda t: 0.3 + 0.9 * np.exp(-0.25 * t), "exponential"),
])
def test_extrapolation_recovers_a_family_within_its_uncertainty(fn, name):
    steps = np.arange(1, 10)
    y = np.array([fn(s) for s in steps]) + np.random.default_rng(1).normal(0, 0.005, 9)
    mean, sd, weights = extrapolate(steps, y, T, noise=0.005)
    assert abs(mean - fn(T)) < 3 * sd and sd < 0.1
    assert max(weights, key=weights.get) == name


def test_fewer_points_mean_more_uncertainty():
    fn = lambda t: 0.2 + 1.0 * t ** -0.7  # noqa: E731
    sds = [extrapolate(np.arange(1, n + 1), np.array([fn(s) for s in range(1, n + 1)]),
                       T, noise=0.01)[1] for n in (3, 6, 12)]
    assert sds[0] > sds[1] > sds[2]


def test_stops_a_curve_that_will_not_reach_the_top_k_and_says_why():
    flat = trial(9, curve(lambda s: 0.6 + 0.5 / s, range(1, 7), noise=0.005))
    (stop,) = PredictRule(max_steps=T).decide(history(*TOP, flat))
    assert stop.trial_id == 9 and stop.rule == "predict" and stop.state == "pruned"
    d = stop.details
    assert d["step"] == 6 and d["horizon"] == T and d["top_k"] == 3
    assert d["threshold"] == pytest.approx(0.25 + 0.8 / T)
    assert d["predicted"] > d["threshold"] and d["probability"] < 0.05
    assert d["predicted"] == pytest.approx(0.6 + 0.5 / T, abs=4 * d["predicted_sd"])
    assert stop.reason.startswith(f"predicted final val_loss {d['predicted']:.4g} ± ")
    assert f"at step {T}; needs < {d['threshold']:.4g} to enter the top 3" in stop.reason


def test_a_slow_learner_that_may_still_win_continues():
    # At step 4 it is at 0.71, far behind the top 3 (0.40-0.45 then), but it is
    # still falling steeply: it ends at 0.19, inside the top 3.
    slow = trial(9, curve(lambda s: 0.05 + 2.0 * s ** -0.8, range(1, 5)))
    assert PredictRule(max_steps=T).decide(history(*TOP, slow)) == []


def test_needs_k_rivals_and_min_steps():
    flat = trial(9, curve(lambda s: 0.6 + 0.5 / s, range(1, 7)))
    assert PredictRule(max_steps=T).decide(history(*TOP[:2], flat)) == []
    assert PredictRule(max_steps=T, top_k=5).decide(history(*TOP, flat)) == []
    assert PredictRule(max_steps=T, min_steps=7).decide(history(*TOP, flat)) == []
    # Running rivals count by their predicted finals: three good learners suffice.
    good = [trial(10 + i, curve(lambda s, i=i: 0.2 + 0.01 * i + 0.8 / s, range(1, 7)))
            for i in range(3)]
    (stop,) = PredictRule(max_steps=T).decide(history(*good, flat))
    assert stop.trial_id == 9 and stop.details["finished"] == 0


def test_protected_finished_and_diverged_trials_are_left_alone():
    flat = curve(lambda s: 0.6 + 0.5 / s, range(1, 7))
    assert PredictRule(max_steps=T).decide(history(*TOP, trial(9, flat, protected=True))) == []
    assert PredictRule(max_steps=T).decide(history(*TOP, trial(9, flat, state="pruned"))) == []
    nan = (*flat[:5], (6, math.nan))
    assert PredictRule(max_steps=T).decide(history(*TOP, trial(9, nan))) == []


def test_a_protected_trial_still_counts_as_a_rival():
    flat = trial(9, curve(lambda s: 0.6 + 0.5 / s, range(1, 7)))
    good = [trial(10 + i, curve(lambda s, i=i: 0.2 + 0.01 * i + 0.8 / s, range(1, 7)),
                  protected=i == 0) for i in range(3)]
    (stop,) = PredictRule(max_steps=T).decide(history(*good, flat))
    assert stop.trial_id == 9


def test_max_objective():
    flipped = [trial(t.id, [(s, -v) for s, v in t.curve], state=t.state) for t in TOP]
    flat = trial(9, curve(lambda s: -(0.6 + 0.5 / s), range(1, 7)))
    (stop,) = PredictRule(max_steps=T).decide(history(*flipped, flat, mode="max"))
    assert stop.details["threshold"] == pytest.approx(-(0.25 + 0.8 / T))
    assert stop.details["predicted"] < stop.details["threshold"]
    assert "needs > " in stop.reason


def test_judges_each_step_once():
    rule = PredictRule(max_steps=T)
    flat = trial(9, curve(lambda s: 0.6 + 0.5 / s, range(1, 7)))
    assert len(rule.decide(history(*TOP, flat))) == 1
    assert rule.decide(history(*TOP, flat)) == []  # same step: not judged again


def test_options_and_the_horizon():
    (rule,) = make_rules([("predict", {"top_k": 5, "probability": 0.1, "noise": 0.01})],
                         SPACE, max_steps=20)
    assert (rule.max_steps, rule.top_k, rule.probability, rule.noise) == (20, 5, 0.1, 0.01)
    with pytest.raises(ValueError, match="predict: needs max_steps"):
        make_rules([("predict", {})], SPACE, max_steps=None)
    with pytest.raises(ValueError, match=r"predict: probability must be in \(0, 0.5\]"):
        make_rules([("predict", {"probability": 0.9})], SPACE, max_steps=20)
    with pytest.raises(ValueError, match="predict: noise must be a finite number"):
        make_rules([("predict", {"noise": math.nan})], SPACE, max_steps=20)


def test_selectable_in_a_spec(tmp_path):
    from tuitune.core.spec import load_spec
    from tuitune.core.strategies import build_rules

    path = tmp_path / "exp.toml"
    path.write_text('name = "p"\ncommand = ["true"]\n[space.lr]\ntype = "float"\nlow = 0.001\n'
                    'high = 0.1\nlog = true\n[objective]\nmetric = "val_loss"\n[budget]\n'
                    'max_steps = 12\n[stopping]\nrules = ["predict", "divergence"]\n'
                    '[stopping.predict]\ntop_k = 2\n')
    spec = load_spec(path)
    rule, _ = build_rules(spec.stopping, spec.space, spec.budget.max_steps)
    assert isinstance(rule, PredictRule) and (rule.max_steps, rule.top_k) == (12, 2)
    path.write_text(path.read_text().replace("top_k = 2", "top_k = 0"))
    with pytest.raises(ValueError,
                       match=r"exp.toml: stopping.predict: .*top_k must be >= 1, got 0"):
        load_spec(path)


def overfitting(i, a, last=T, state="completed"):
    """Falls like a + 0.8/s, then rises from step 8 on (overfits): the families, fitted to
    the first points, predict it ends about 0.23 lower than it does."""
    return trial(i, curve(lambda s: a + 0.8 / s + 0.012 * max(0, s - 8), range(1, last + 1)),
                 state=state)


OVERFIT = tuple(overfitting(i, 0.01 * i) for i in range(8))  # finals 0.26 .. 0.33


def test_calibration_on_finished_curves_corrects_an_optimistic_model():
    """The run's finished curves all ended far above what the model predicted from their
    first 6 points; a new curve of the same kind is judged with that error in mind."""
    doomed = overfitting(20, 0.12, last=6, state="running")  # ends at 0.38
    promising = overfitting(21, -0.1, last=6, state="running")  # ends at 0.16: the best
    # The model alone predicts 0.15 for `doomed` (needs < 0.28): it goes on.
    assert PredictRule(max_steps=T, calibrate=0, noise=0.004).decide(
        history(*OVERFIT, doomed)) == []
    (stop,) = PredictRule(max_steps=T, noise=0.004, calibrate=5).decide(
        history(*OVERFIT, doomed, promising))
    assert stop.trial_id == 20
    d = stop.details
    assert d["calibrated_on"] == 8 and d["model_mean"] < d["threshold"] < d["predicted"]
    assert d["predicted"] == pytest.approx(0.12 + 0.8 / T + 0.012 * (T - 8), abs=0.05)
    assert "calibrated on 8 finished curves" in stop.reason
    # Too few finished curves to calibrate on: the model's own prediction again.
    assert PredictRule(max_steps=T, calibrate=9, noise=0.004).decide(
        history(*OVERFIT, doomed)) == []


def test_across_judges_from_where_finished_curves_went():
    """With across, a trial is judged from 2 points by how the finished curves that were
    where it is ended; without, it needs 3 points."""
    finished_ = tuple(trial(i, curve(lambda s, i=i: 0.1 * i + 0.5 / s, range(1, T + 1),
                                     noise=0.002, seed=i), state="completed")
                      for i in range(1, 9))  # finals 0.12 .. 0.82, ordered as at step 2
    slow = trial(20, curve(lambda s: 0.75 + 0.5 / s, range(1, 3)))  # like the worst
    assert PredictRule(max_steps=T, min_steps=2, same_step=False).decide(
        history(*finished_, slow)) == []
    (stop,) = PredictRule(max_steps=T, min_steps=2, across=True, same_step=False).decide(
        history(*finished_, slow))
    assert stop.trial_id == 20 and stop.details["weight cross-curve"] == 1.0
    assert "finished curves went from their value then" in stop.reason
    with pytest.raises(ValueError, match="predict: across"):
        make_rules([("predict", {"across": "yes"})], SPACE, max_steps=20)


def spread_out(i, final, state="completed", last=T):
    """Curves that fall by 0.3 to 0.5 between step 1 and the horizon: the moves the
    same-step judgement reads have a spread (about 0.07)."""
    drop = 0.3 + 0.04 * (i % 6)
    return trial(i, curve(lambda s: final + drop * (T - s) / (T - 1), range(1, last + 1)),
                 state=state)


DONE = tuple(spread_out(i, 0.2 + 0.02 * i) for i in range(1, 7))  # finals 0.22 .. 0.32


def test_same_step_judges_a_trial_from_its_first_point_against_rivals_then():
    """With too few points to extrapolate, a trial is judged against its rivals at the
    same step and how the finished curves moved from there (the rule before it waited
    for 3 points)."""
    behind = trial(20, [(1, 1.4)])  # rivals at step 1: 0.62 .. 0.84
    (stop,) = PredictRule(max_steps=T).decide(history(*DONE, behind))
    assert stop.trial_id == 20 and stop.rule == "predict"
    d = stop.details
    assert d["stage"] == "same step" and d["step"] == 1 and d["finished"] == 6
    third = sorted(v for t in DONE for s, v in t.curve if s == 1)[2]
    assert d["kth_at_step"] == pytest.approx(third)
    moves = [t.curve[-1][1] - t.curve[0][1] for t in DONE]
    assert d["move"] == pytest.approx(np.mean(moves))
    assert d["threshold"] == pytest.approx(third + np.mean(moves))
    assert d["predicted"] == pytest.approx(1.4 + np.mean(moves)) and d["probability"] < 0.05
    assert stop.reason.startswith(f"predicted final val_loss {d['predicted']:.4g} ± ")
    assert (f"needs < {d['threshold']:.4g} to enter the top 3" in stop.reason
            and "at step 1 it is at 1.4, the 3rd best of 6 other trials then at" in stop.reason
            and "6 finished curves moved by" in stop.reason)
    # The old rule (extrapolation only) has nothing to go on from one point.
    assert PredictRule(max_steps=T, same_step=False).decide(history(*DONE, behind)) == []


def test_same_step_spares_a_trial_within_the_spread_of_the_moves():
    close = trial(20, [(1, 0.72)])  # 0.06 behind the 3rd best at step 1 (0.66)
    assert PredictRule(max_steps=T).decide(history(*DONE, close)) == []


def test_same_step_needs_finished_curves_and_respects_protection():
    behind = trial(20, [(1, 1.4)])
    # Two finished curves say too little about how curves move.
    running = tuple(spread_out(i, 0.2, state="running", last=2) for i in range(10, 14))
    assert PredictRule(max_steps=T).decide(history(*DONE[:2], *running, behind)) == []
    assert PredictRule(max_steps=T).decide(
        history(*DONE, trial(20, [(1, 1.4)], protected=True))) == []
    # A protected rival still counts at its step.
    rivals = tuple(trial(30 + i, [(1, 0.5)], protected=True) for i in range(3))
    (stop,) = PredictRule(max_steps=T).decide(history(*DONE, *rivals, trial(20, [(1, 0.8)])))
    assert stop.trial_id == 20 and stop.details["kth_at_step"] == 0.5


def test_same_step_with_a_max_objective():
    flipped = [trial(t.id, [(s, -v) for s, v in t.curve], state=t.state) for t in DONE]
    (stop,) = PredictRule(max_steps=T).decide(
        history(*flipped, trial(20, [(1, -1.4)]), mode="max"))
    assert stop.details["predicted"] < stop.details["threshold"] < 0
    assert "needs > " in stop.reason and "at step 1 it is at -1.4" in stop.reason


def test_same_step_yields_to_a_trial_whose_own_curve_says_it_makes_the_top_k():
    """At step 4 a slow learner is far behind, and the finished curves all moved alike
    from there, but its own steep curve says it ends in the top 3: it continues (the
    slow-learner test above, which the same-step judgement alone would stop)."""
    slow = trial(9, curve(lambda s: 0.05 + 2.0 * s ** -0.8, range(1, 5)))
    rule = PredictRule(max_steps=T)
    assert rule.decide(history(*TOP, slow)) == []
    flat = trial(9, curve(lambda s: 0.75 + 0.1 / s, range(1, 5)))  # behind, and flat
    (stop,) = PredictRule(max_steps=T).decide(history(*TOP, flat))
    assert stop.trial_id == 9


def test_same_step_option():
    (rule,) = make_rules([("predict", {"same_step": False})], SPACE, max_steps=20)
    assert rule.same_step is False and PredictRule(max_steps=20).same_step is True
    with pytest.raises(ValueError, match="predict: same_step"):
        make_rules([("predict", {"same_step": 1})], SPACE, max_steps=20)


def test_an_uncalibrated_prediction_reports_the_models_own_sd():
    """The stop reason's `± sd` of an uncalibrated prediction is the model's sd, not a
    bisection's approximation of it (it printed 0.04999 for 0.05)."""
    from tuitune.stopping.predict import Predictive

    p = Predictive(0.4, 0.05, {})
    assert p.spread() == 0.05
    assert abs(p.quantile(0.5) - 0.4) < 1e-12 and abs(p.quantile(0.8413447460685429) - 0.45) < 1e-12
