"""Insight quality and speed (issue 15).

1. Importance: 6 parameters (log float, float, int, power of two, log float,
   categorical) of which 2 matter, with noise; 30 random trials; for each of 10
   seeds, are the 2 that matter ranked first? By the default (fANOVA main effects
   of the run's GP) and by PED-ANOVA. Two problem families: `random pair` (the 2
   are drawn per seed, any type) and `lr + dropout` (both continuous). Beside
   them, Optuna's own PedAnovaImportanceEvaluator on the same trials (when optuna
   is installed: the `bench` extra), its hit rate and the Spearman rank
   correlation between its ranking and each of ours.
2. Zoom advice: 20 random trials, then follow the zoom advice once (as `tuitune
   insight` gives it, with the run's GP fitted; narrow the space as `tuitune space`
   would) and search 30 more at random, against 50 random
   trials, 50 trials of Bayesian search, over 10 seeds: median regret at 50 trials
   (simple regret: the lowest noiseless loss among the configurations evaluated,
   minus the optimum).
3. Screen: a 1,000-trial run written into a store; from the key `i` to the screen
   shown, to the importance and advice drawn, and to the model's slices drawn.

Run:
    python benchmarks/bench_insight.py [--seeds 10] [--trials 1000] [--points 200]
    python benchmarks/bench_insight.py --first-seed 40 --skip importance --skip screen
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tui_common import machine  # noqa: E402

from tuitune.core.history import History, Objective, TrialView  # noqa: E402
from tuitune.insight import build_insight, ped_anova, trial_points  # noqa: E402
from tuitune.insight.model import RunModel  # noqa: E402
from tuitune.search import make_searcher  # noqa: E402
from tuitune.core.space import (  # noqa: E402
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    Pow2Param,
    Space,
)

RESULTS = Path(__file__).resolve().parent / "results" / "insight.md"
SPACE = Space((
    FloatParam("lr", low=1e-5, high=1.0, log=True),
    FloatParam("dropout", low=0.0, high=0.8),
    IntParam("layers", low=1, high=8),
    Pow2Param("batch", low=16, high=512),
    FloatParam("wd", low=1e-6, high=1e-2, log=True),
    CategoricalParam("opt", choices=("adam", "sgd", "rmsprop")),
))
NOISE = 0.05
N_IMPORTANCE = 30


class Problem:
    """Quadratic bowls in the unit encoding of two parameters (a wrong choice of a
    categorical costs 0.6), the rest irrelevant; observed with Gaussian noise."""

    def __init__(self, names: tuple[str, str], centers: tuple[float, float]) -> None:
        self.names, self.centers = names, centers

    def true_loss(self, params: Mapping[str, Any]) -> float:
        total = 0.0
        for name, c in zip(self.names, self.centers, strict=True):
            p = SPACE[name]
            if isinstance(p, CategoricalParam):
                total += 0.0 if params[name] == self._best_choice(p, c) else 0.6
            else:
                total += 4.0 * (p.to_unit(params[name]) - c) ** 2
        return total

    @staticmethod
    def _best_choice(p: CategoricalParam, c: float) -> Any:
        return p.choices[int(c * len(p.choices))]

    def optimum(self) -> float:
        total = 0.0
        for name, c in zip(self.names, self.centers, strict=True):
            p = SPACE[name]
            values = getattr(p, "values", None)
            if isinstance(p, CategoricalParam):
                continue
            if p.discrete and callable(values):
                total += min(4.0 * (p.to_unit(v) - c) ** 2 for v in values())
        return total


def problem_for(seed: int, family: str) -> Problem:
    rng = np.random.default_rng(1000 + seed)
    if family == "lr + dropout":
        names = ("lr", "dropout")
    else:
        names = tuple(rng.choice([p.name for p in SPACE.dims], 2, replace=False))  # type: ignore[assignment]
    centers = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
    return Problem(names, centers)  # type: ignore[arg-type]


def history_of(rows: list[tuple[dict[str, Any], float]]) -> History:
    trials = tuple(TrialView(id=i + 1, state="completed", params=p, origin="random",
                             curve=((1, v),), value=v) for i, (p, v) in enumerate(rows))
    return History(Objective("loss"), trials)


def observe(problem: Problem, params: Mapping[str, Any], rng: np.random.Generator) -> float:
    return problem.true_loss(params) + float(rng.normal(0.0, NOISE))


# -- 1. importance ---------------------------------------------------------------------
def optuna_ranking(rows: list[tuple[dict[str, Any], float]]) -> list[str] | None:
    try:
        import optuna
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )
        from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    def dist(p: Param) -> Any:
        if isinstance(p, FloatParam):
            return FloatDistribution(p.low, p.high, log=p.log)
        if isinstance(p, IntParam):
            return IntDistribution(p.low, p.high, log=p.log)
        if isinstance(p, Pow2Param):
            return CategoricalDistribution(p.values())
        return CategoricalDistribution(p.choices)  # type: ignore[attr-defined]

    dists = {p.name: dist(p) for p in SPACE.dims}
    study = optuna.create_study()
    for params, value in rows:
        study.add_trial(optuna.trial.create_trial(params=dict(params), distributions=dists,
                                                  value=value))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return list(found)


def spearman(a: list[str], b: list[str]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr([a.index(n) for n in a], [b.index(n) for n in a]).statistic)


def bench_importance(seeds: int) -> str:
    from tuitune.insight.main_effects import main_effects

    lines = ["| problem | fANOVA of the GP (the default): the 2 on top | PED-ANOVA (ours) | "
             "Optuna's PED-ANOVA | rank correlation with Optuna's PED-ANOVA (median): GP, "
             "ours | ms per ranking: GP, PED-ANOVA |", "|---|---|---|---|---|---|"]
    for family in ("random pair", "lr + dropout"):
        hits = {"gp": 0, "ped": 0, "optuna": 0}
        rhos: dict[str, list[float]] = {"gp": [], "ped": []}
        costs: dict[str, list[float]] = {"gp": [], "ped": []}
        have_optuna = True
        for seed in range(seeds):
            problem = problem_for(seed, family)
            rng = np.random.default_rng(seed)
            rows = []
            for _ in range(N_IMPORTANCE):
                params = SPACE.sample(rng)
                rows.append((params, observe(problem, params, rng)))
            history = history_of(rows)
            t = time.perf_counter()
            points, _ = trial_points(history)
            rankings = {"ped": [p.name for p in ped_anova(points, SPACE).params]}
            costs["ped"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            gp = main_effects(RunModel(SPACE, history), len(rows))
            costs["gp"].append((time.perf_counter() - t) * 1000)
            rankings["gp"] = [p.name for p in gp.params] if gp else []
            for name in ("gp", "ped"):
                hits[name] += set(rankings[name][:2]) == set(problem.names)
            other = optuna_ranking(rows)
            if other is None:
                have_optuna = False
                continue
            hits["optuna"] += set(other[:2]) == set(problem.names)
            for name in ("gp", "ped"):
                rhos[name].append(spearman(rankings[name], other))
        optuna_cells = (f"{hits['optuna']} of {seeds}",
                        f"{statistics.median(rhos['gp']):.2f}, "
                        f"{statistics.median(rhos['ped']):.2f}") if have_optuna else (
            "(optuna not installed)", "-")
        lines.append(f"| {family} | {hits['gp']} of {seeds} | {hits['ped']} of {seeds} | "
                     f"{optuna_cells[0]} | {optuna_cells[1]} | "
                     f"{statistics.median(costs['gp']):.0f}, "
                     f"{statistics.median(costs['ped']):.1f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


# -- 2. zoom advice ----------------------------------------------------------------------
def narrowed(space: Space, args: Mapping[str, Any]) -> Space:
    """The space a zoom advice's `space` command makes (ranges and choices)."""
    out = []
    for p in space.params:
        bounds = (args.get("ranges") or {}).get(p.name)
        choices = (args.get("choices") or {}).get(p.name)
        if bounds is not None:
            p = replace(p, low=bounds["low"], high=bounds["high"])  # type: ignore[call-arg]
        elif choices is not None:
            p = replace(p, choices=tuple(choices))  # type: ignore[call-arg]
        out.append(p)
    return Space(tuple(out))


def run_search(problem: Problem, strategy: str, seed: int, n: int,
               zoom_after: int | None = None) -> tuple[float, bool]:
    """Regret after `n` trials; and whether a zoom advice was there to follow."""
    rng = np.random.default_rng(seed)
    space = SPACE
    searcher = make_searcher(strategy, space, seed=seed, mode="min", options={})
    rows: list[tuple[dict[str, Any], float]] = []
    zoomed = False
    for i in range(n):
        if zoom_after is not None and i == zoom_after:
            history = history_of(rows)
            advice = [a for a in build_insight(history, space,
                                               model=RunModel(space, history)).advice
                      if a.kind == "zoom"]
            if advice:
                zoomed = True
                space = narrowed(space, advice[0].args)
                searcher = make_searcher(strategy, space, seed=seed + 1, mode="min",
                                         options={})
                for params, value in rows:
                    searcher.tell(params, value)
        decision = searcher.ask()
        params = dict(decision.params)  # type: ignore[union-attr]
        value = observe(problem, params, rng)
        searcher.tell(params, value)
        rows.append((params, value))
    # Simple regret: the best configuration evaluated, scored without noise.
    best = min(problem.true_loss(p) for p, _ in rows)
    return best - problem.optimum(), zoomed


def bench_zoom(seeds: int, paired_seeds: int, first: int = 0) -> str:
    lines = ["| problem | random, 50 | zoom advice after 20 random, then random | bayes, 50 | "
             "seeds with a zoom advice at 20 | zoom at least as good as random (paired) |",
             "|---|---|---|---|---|---|"]
    for family in ("random pair", "lr + dropout"):
        regrets: dict[str, list[float]] = {"random": [], "zoom": [], "bayes": []}
        advised = 0
        for seed in range(first, first + seeds):
            problem = problem_for(seed, family)
            regrets["random"].append(run_search(problem, "random", seed, 50)[0])
            regret, zoomed = run_search(problem, "random", seed, 50, zoom_after=20)
            regrets["zoom"].append(regret)
            advised += zoomed
            regrets["bayes"].append(run_search(problem, "bayes", seed, 50)[0])
        med = {k: statistics.median(v) for k, v in regrets.items()}
        wins = sum(z <= r for z, r in zip(regrets["zoom"], regrets["random"], strict=True))
        lines.append(f"| {family} | {med['random']:.4f} | {med['zoom']:.4f} | "
                     f"{med['bayes']:.4f} | {advised} of {seeds} | {wins} of {seeds} |")
        print(lines[-1], flush=True)
    # Random search costs nothing, so the same comparison over more seeds tells a real
    # difference from the luck of 10 draws (the regrets at 50 trials are tiny).
    lines += ["", f"The same without Bayesian search, over {paired_seeds} seeds:", "",
              "| problem | random, 50: median (mean) | zoom, then random: median (mean) | "
              "zoom at least as good as random (paired) |", "|---|---|---|---|"]
    for family in ("random pair", "lr + dropout"):
        rand, zoom = [], []
        for seed in range(first, first + paired_seeds):
            problem = problem_for(seed, family)
            rand.append(run_search(problem, "random", seed, 50)[0])
            zoom.append(run_search(problem, "random", seed, 50, zoom_after=20)[0])
        wins = sum(z <= r for z, r in zip(zoom, rand, strict=True))
        lines.append(f"| {family} | {statistics.median(rand):.4f} ({statistics.mean(rand):.4f}) | "
                     f"{statistics.median(zoom):.4f} ({statistics.mean(zoom):.4f}) | "
                     f"{wins} of {paired_seeds} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def bench_noise(draws: int) -> str:
    """How often the zoom advice appears when the objective is pure noise, with and
    without its leave-one-out gate (advice.ZOOM_MIN_LOO_R2)."""
    from tuitune.insight import advice as rules
    from tuitune.insight.main_effects import effect_curves

    two = Space((SPACE["lr"], IntParam("units", low=1, high=64)))
    lines = [f"Zoom advice on pure noise (values drawn from N(0, 1)), {draws} draws each:", "",
             "| space | trials | zoom advised | without the leave-one-out gate |",
             "|---|---|---|---|"]
    for name, space in (("lr, units", two), ("the six above", SPACE)):
        for n in (20, 40):
            gated = ungated = 0
            for seed in range(draws):
                rng = np.random.default_rng(seed)
                rows = [(space.sample(rng), 0.0) for _ in range(n)]
                rows = [(p, float(rng.normal())) for p, _ in rows]
                history = history_of(rows)
                effects = effect_curves(RunModel(space, history))
                points, _ = trial_points(history)
                gated += rules.zoom(points, space, effects) is not None
                if effects is not None:
                    effects = replace(effects, loo_r2=1.0)
                ungated += rules.zoom(points, space, effects) is not None
            lines.append(f"| {name} | {n} | {gated} of {draws} | {ungated} of {draws} |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


# -- 3. screen ---------------------------------------------------------------------------
async def _open_screen(run_dir: Path) -> dict[str, float]:
    from tuitune.system import FakeGpuSource
    from tuitune.ui.factory import build_app
    from tuitune.ui.screens.insight import InsightScreen

    app = build_app(run_dir, gpu_source=FakeGpuSource(2))
    marks: dict[str, float] = {}
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + 120
        while not app.view.loaded and time.monotonic() < deadline:
            await pilot.pause(0.05)
        started = time.perf_counter()
        await pilot.press("i")
        while "model" not in marks and time.monotonic() < deadline:
            screen = app.screen
            if isinstance(screen, InsightScreen) and screen.shown_at is not None:
                marks.setdefault("shown", screen.shown_at - started)
                c = screen.computed
                if c is not None and c.insight is not None:
                    marks.setdefault("insight", time.perf_counter() - started)
                if c is not None and c.model_done:
                    marks["model"] = time.perf_counter() - started
            await pilot.pause(0.005)
    return marks


def bench_screen(trials: int, points: int, repeat: int) -> str:
    from bench_tui_open import generate

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_dir = generate(Path(tmp), trials, points)
        print(f"generated {trials} x {points} in {time.perf_counter() - t:.0f} s", flush=True)
        runs = [asyncio.run(_open_screen(run_dir)) for _ in range(repeat)]
    lines = ["| stage (seconds from the key `i`) | median | max |", "|---|---|---|"]
    for stage, what in (("shown", "the screen is shown (title: computing…)"),
                        ("insight", "importance, advice, parallel coordinates drawn"),
                        ("model", "the model's slices drawn")):
        values = [r[stage] for r in runs if stage in r]
        lines.append(f"| {what} | {statistics.median(values):.3f} | {max(values):.3f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paired-seeds", type=int, default=40,
                        help="seeds of the random-only zoom comparison")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the zoom comparison's first seed (other than 0: a held-out "
                             "check, written to its own section)")
    parser.add_argument("--skip", choices=("importance", "zoom", "screen"), action="append",
                        default=[])
    args = parser.parse_args()
    command = (f"`python benchmarks/bench_insight.py --seeds {args.seeds} --trials "
               f"{args.trials} --points {args.points} --repeat {args.repeat} "
               f"--paired-seeds {args.paired_seeds}"
               + (f" --first-seed {args.first_seed}" if args.first_seed else "")
               + "".join(f" --skip {s}" for s in args.skip) + "`")
    where = f"Machine: {machine()}. Command: {command}"
    if "importance" not in args.skip:
        write_section("importance", f"## Importance: the 2 parameters that matter ranked "
                      f"first ({N_IMPORTANCE} random trials, noise sd {NOISE})\n\n{where}\n\n"
                      + bench_importance(args.seeds))
    if "zoom" not in args.skip:
        first = args.first_seed
        write_section("zoom" if not first else f"zoom-from-{first}",
                      "## Zoom advice: median regret at 50 trials"
                      + (f", seeds from {first}" if first else "") + f"\n\n{where}\n\n"
                      + bench_zoom(args.seeds, args.paired_seeds, first)
                      + ("" if first else "\n\n" + bench_noise(20)))
    if "screen" not in args.skip:
        write_section("screen", f"## Screen open time: {args.trials} trials x {args.points} "
                      f"points, 200x50, {args.repeat} runs\n\n{where}\n\n"
                      + bench_screen(args.trials, args.points, args.repeat))
    print(f"wrote {RESULTS}")


def write_section(name: str, markdown: str) -> None:
    """Replace this section of the results file (the others stay)."""
    import re

    text = RESULTS.read_text() if RESULTS.exists() else "# Insight benchmarks\n"
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
