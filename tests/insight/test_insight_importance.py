"""PED-ANOVA importance on histories whose answer is known."""

from __future__ import annotations

import math

import numpy as np

from tuitune.core.history import History, Objective
from tuitune.insight import ped_anova, trial_points
from tuitune.insight.importance import MIN_TRIALS

from .synthetic import SPACE, random_history, two_that_matter, view


def test_the_parameters_that_matter_rank_first():
    hits = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        loss = two_that_matter(SPACE, ("lr", "dropout"), (0.6, 0.3), 0.02, rng)
        points, _ = trial_points(random_history(SPACE, loss, 80, rng))
        imp = ped_anova(points, SPACE)
        hits += {p.name for p in imp.params[:2]} == {"lr", "dropout"}
        assert math.isclose(sum(p.importance for p in imp.params), 1.0)
        assert all(p.n_trials == 80 for p in imp.params)
    assert hits >= 4


def test_too_few_trials_says_so_in_one_line():
    rng = np.random.default_rng(0)
    loss = two_that_matter(SPACE, ("lr", "opt"), (0.5, 0.1), 0.0, rng)
    points, _ = trial_points(random_history(SPACE, loss, MIN_TRIALS - 1, rng))
    imp = ped_anova(points, SPACE)
    assert imp.params == ()
    assert "\n" not in imp.note and f"at least {MIN_TRIALS}" in imp.note


def test_trials_cut_short_are_compared_at_a_common_step_and_never_top():
    # Pruned trials stopped at step 2 with a value better than anything at step 10:
    # read at their best value so far they would be the best; at the common step
    # they have no value and only widen the region.
    objective = Objective("loss")
    rng = np.random.default_rng(3)
    trials = []
    for i in range(12):
        params = SPACE.sample(rng)
        trials.append(view(i + 1, params, 1.0 + i / 10, steps=10))
    for j in range(4):
        params = SPACE.sample(rng)
        trials.append(view(100 + j, params, 0.01, state="pruned", steps=2))
    points, step = trial_points(History(objective, tuple(trials)))
    assert step is None  # full fidelity: 12 trials completed
    pruned = [p for p in points if p.id >= 100]
    assert all(p.mark == "pruned" and p.value is None and p.loss == math.inf for p in pruned)
    best = min(points, key=lambda p: p.loss)
    assert best.id == 1


def test_the_gp_main_effects_rank_the_two_that_matter_first_at_30_trials():
    from tuitune.insight.main_effects import main_effects
    from tuitune.insight.model import RunModel

    for seed in range(3):
        rng = np.random.default_rng(seed)
        loss = two_that_matter(SPACE, ("wd", "opt"), (0.3, 0.7), 0.05, rng)
        history = random_history(SPACE, loss, 30, rng)
        imp = main_effects(RunModel(SPACE, history), 30)
        assert {p.name for p in imp.params[:2]} == {"wd", "opt"}
        assert all(0.0 <= p.importance <= 1.0 for p in imp.params)
        assert imp.params[-1].importance < 0.05  # an irrelevant one explains ~nothing


def test_main_effects_on_a_space_with_conditional_parameters():
    """mnist_mlp's second and third layers exist only with enough layers: the GP is
    over embedded inputs there (search/conditional.py), and main effects used to
    fail with AttributeError ('OnCube' object has no attribute 'kernel'), so the
    insight screen and `tuitune insight` showed no importance on such a run."""
    from pathlib import Path

    from tuitune.core.spec import load_spec
    from tuitune.insight.main_effects import main_effects
    from tuitune.insight.model import RunModel

    space = load_spec(Path(__file__).resolve().parents[2] / "sample_specs"
                      / "mnist_mlp.toml").space
    rng = np.random.default_rng(0)
    lr = space["lr"]
    history = random_history(space, lambda p: (lr.to_unit(p["lr"]) - 0.4) ** 2, 30, rng)
    imp = main_effects(RunModel(space, history), 30)
    assert imp is not None and imp.params[0].name == "lr"
