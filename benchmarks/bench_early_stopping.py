"""Early-stopping benchmark on synthetic learning curves that cross, with noise.

Each configuration x in [0, 1]^4 trains for up to MAX_STEPS steps. Its loss decays
from about 1 towards an asymptote a(x) at a speed r(x). Dimension x0 acts like a
learning rate: a larger one learns faster early but settles higher (a(x) is
smallest near x0 = 0.35), so early leaders are not the final winners and curves
cross; --crossing sets how many decades of speed x0 spans. Every reported point
carries Gaussian noise (--noise).

Trials run asynchronously on W simulated workers (one step per time unit, no real
processes); the stopping rule sees a fresh History after every time unit, as the
engine would give it, and searchers are synced from the same snapshots. A
strategy's incumbent is the completed trial (one that reached MAX_STEPS) with the
best observed final value; its regret is the noise-free final loss of that
configuration minus the best achievable. Compute is the total of steps run by all
trials.

The target is random search's final regret: the median, over reference seeds, of
the regret of random search without stopping after --trials full trials (its
budget B). For each strategy the median over seeds of the regret-versus-compute
curve is taken, and the table reports the compute at which that median curve
first reaches the target (random's own is B by construction), the ratio to
B, the median regret after B/5 and B steps, and the false-stop rate: the share of
stopped trials whose noise-free final loss is in the best 10% of configurations.

Run:  python benchmarks/bench_early_stopping.py --seeds 20 \
          --out benchmarks/results/early_stopping.md
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuitune.core.history import History, Objective, TrialView  # noqa: E402
from tuitune.core.space import FloatParam, Space  # noqa: E402
from tuitune.stopping import (  # noqa: E402
    ASHA,
    Hyperband,
    MedianRule,
    PredictRule,
    StoppingRule,
)

DIM, MAX_STEPS, NOISE = 4, 81, 0.01
SPACE = Space(tuple(FloatParam(f"x{i}", low=0.0, high=1.0) for i in range(DIM)))
OBJECTIVE = Objective("val_loss", "min")


# -- the synthetic problem ----------------------------------------------------------


def asymptote(x: np.ndarray) -> np.ndarray:
    """Where the loss would settle with unlimited steps (smallest near x0 = 0.35)."""
    x = np.atleast_2d(x)
    return (
        0.10
        + 0.8 * (x[:, 0] - 0.35) ** 2
        + 0.4 * (x[:, 1] - 0.7) ** 2
        + 0.3 * (x[:, 2] - 0.2) ** 2
        + 0.05 * np.sin(6.0 * x[:, 1] + 4.0 * x[:, 3]) ** 2
    )


#: Decades of learning speed across x0: how strongly curves cross (set by --crossing).
CROSSING = 1.5
#: The final loss of the best 10% of configurations (set in main; false stops are below it).
TOP10 = math.nan


def rate(x: np.ndarray) -> np.ndarray:
    """Learning speed per step: a large x0 (a large learning rate) learns fast."""
    x = np.atleast_2d(x)
    return 0.3 * 10.0 ** (CROSSING * (x[:, 0] - 0.5) - 0.3 * (x[:, 3] - 0.5))


def loss_at(x: np.ndarray, step: np.ndarray | int) -> np.ndarray:
    return asymptote(x) + 1.0 / (1.0 + rate(x) * step)


def final_loss(x: np.ndarray) -> np.ndarray:
    return loss_at(x, MAX_STEPS)


def best_final(seed: int = 0) -> float:
    """The optimum of the noise-free final loss, by multi-start L-BFGS-B."""
    rng = np.random.default_rng(seed)
    starts = rng.random((20000, DIM))
    order = np.argsort(final_loss(starts))[:20]
    best = math.inf
    for x0 in starts[order]:
        res = minimize(lambda x: float(final_loss(x)[0]), x0, bounds=[(0, 1)] * DIM)
        best = min(best, float(res.fun))
    return best


# -- strategies ---------------------------------------------------------------------


class RandomSampler:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 1])

    def ask(self, history: Callable[[], History]) -> np.ndarray:
        return self.rng.random(DIM)


class SearcherSampler:
    """Adapts a tuitune searcher (sync/ask) to the simulator."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher

    def ask(self, history: Callable[[], History]) -> np.ndarray:
        from tuitune.core.decisions import Suggest

        self.searcher.sync(history())
        decision = self.searcher.ask()
        assert isinstance(decision, Suggest), decision
        return np.array([float(decision.params[f"x{i}"]) for i in range(DIM)])


def bayes_factory(**options: Any) -> Callable[[int], SearcherSampler]:
    """The project's Bayesian searcher with these options (defaults otherwise)."""
    from tuitune.search import make_searcher

    return lambda seed: SearcherSampler(
        make_searcher("bayes", SPACE, seed=seed, mode="min", options=options)
    )


# -- the asynchronous simulator ------------------------------------------------------


@dataclass
class Trial:
    id: int
    x: np.ndarray
    curve: list[tuple[int, float]] = field(default_factory=list)
    state: str = "running"
    view: TrialView | None = None  # cached once finished

    def to_view(self) -> TrialView:
        if self.view is not None:
            return self.view
        finite = [v for _, v in self.curve if math.isfinite(v)]
        view = TrialView(
            id=self.id,
            state=self.state,
            params={f"x{i}": float(v) for i, v in enumerate(self.x)},
            origin="bench",
            curve=tuple(self.curve),
            value=min(finite) if finite else None,
        )
        if self.state != "running":
            self.view = view
        return view


@dataclass
class Outcome:
    trace: list[tuple[int, float]]  # (compute, incumbent regret) at every change
    trials: int
    stopped: list[float] = field(default_factory=list)  # noise-free finals of stopped trials

    def regret_at(self, compute: np.ndarray) -> np.ndarray:
        """The incumbent's regret after each amount of compute (inf before one)."""
        if not self.trace:
            return np.full(len(compute), np.inf)
        at = np.array([c for c, _ in self.trace])
        regrets = np.array([r for _, r in self.trace])
        i = np.searchsorted(at, compute, side="right") - 1
        return np.where(i >= 0, regrets[np.maximum(i, 0)], np.inf)


def simulate(
    sampler: Any, rule: StoppingRule | None, seed: int, workers: int, cap: int, optimum: float
) -> Outcome:
    """Run one strategy for `cap` steps of compute."""
    rng = np.random.default_rng([seed, 2])
    trials: list[Trial] = []
    running: list[Trial] = []
    finished: list[TrialView] = []  # views of finished trials, which never change

    def history() -> History:
        views = tuple(finished + [t.to_view() for t in running])
        return History(OBJECTIVE, views, max_steps=MAX_STEPS)

    def retire() -> None:
        nonlocal running
        finished.extend(t.to_view() for t in running if t.state != "running")
        running = [t for t in running if t.state == "running"]

    compute, best_obs, trace = 0, math.inf, []
    while compute < cap:
        while len(running) < workers:
            trial = Trial(len(trials) + 1, sampler.ask(history))
            trials.append(trial)
            running.append(trial)
        for trial in running:
            step = len(trial.curve) + 1
            value = float(loss_at(trial.x, step)[0]) + float(rng.normal(0.0, NOISE))
            trial.curve.append((step, value))
            compute += 1
            if step < MAX_STEPS:
                continue
            trial.state = "completed"
            if value < best_obs:  # the incumbent: best observed final value
                best_obs = value
                trace.append((compute, float(final_loss(trial.x)[0]) - optimum))
        retire()
        if rule is None:
            continue
        for d in rule.decide(history()):
            t = trials[d.trial_id - 1]
            if t.state == "running":
                t.state = getattr(d, "state", "pruned")
        retire()
    stopped = [float(final_loss(t.x)[0]) for t in trials
               if t.state not in ("running", "completed")]
    return Outcome(trace, len(trials), stopped)


def top10_final(seed: int = 0, n: int = 20000) -> float:
    """The final loss of the best 10% of configurations (uniform in the cube)."""
    return float(np.quantile(final_loss(np.random.default_rng([seed, 9]).random((n, DIM))), 0.1))


# -- the table ----------------------------------------------------------------------

Factory = tuple[Callable[[int], Any], Callable[[], Any]]


def strategies(min_steps: int, eta: int) -> dict[str, Factory]:
    """name -> (sampler factory by seed, stopping-rule factory)."""
    out: dict[str, Factory] = {
        "random": (RandomSampler, lambda: None),
        "random + median": (RandomSampler, lambda: MedianRule(grace_steps=min_steps)),
        "random + ASHA": (RandomSampler, lambda: ASHA(min_steps, eta, MAX_STEPS)),
        "random + Hyperband": (RandomSampler, lambda: Hyperband(min_steps, eta, MAX_STEPS)),
        "random + predict": (RandomSampler, lambda: PredictRule(MAX_STEPS, min_steps=min_steps)),
        # The rule before its same-step judgement (issue 18 follow-up).
        "random + predict, extrapolation only": (RandomSampler, lambda: PredictRule(
            MAX_STEPS, min_steps=max(3, min_steps), same_step=False)),
        # Calibrated on the run's finished curves (options, off by default; issue 18), as
        # measured: on the rule before the same-step judgement.
        "random + predict, calibrated": (RandomSampler, lambda: PredictRule(
            MAX_STEPS, min_steps=max(3, min_steps), same_step=False, calibrate=5)),
        "random + predict, across": (RandomSampler, lambda: PredictRule(
            MAX_STEPS, min_steps=max(3, min_steps), same_step=False, calibrate=5,
            across=True)),
    }
    bayes = bayes_factory()
    out["bayes"] = (bayes, lambda: None)
    out["bayes + ASHA"] = (bayes, lambda: ASHA(min_steps, eta, MAX_STEPS))
    out["bayes + predict"] = (bayes, lambda: PredictRule(MAX_STEPS, min_steps=min_steps))
    # The policy before issue #4's fix: every trial counts with its best value so far.
    out["bayes + ASHA, fidelity best"] = (
        bayes_factory(fidelity="best"),
        lambda: ASHA(min_steps, eta, MAX_STEPS),
    )
    # Without BOHB's random fraction: every ask after the initial design from the model.
    out["bayes + ASHA, no random fraction"] = (
        bayes_factory(random_fraction=0.0),
        lambda: ASHA(min_steps, eta, MAX_STEPS),
    )
    return out


def rank_correlations(seed: int = 0, n: int = 4000) -> dict[int, float]:
    """Spearman correlation of a noisy early value with the final loss, per rung."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    x = rng.random((n, DIM))
    final = final_loss(x)
    out = {}
    for step in (1, 3, 9, 27):
        early = loss_at(x, step) + rng.normal(0.0, NOISE, n)
        out[step] = float(spearmanr(early, final)[0])
    return out


def _cap(name: str, args: Any) -> int:
    """The compute cap. The GP's cost grows with every trial and ASHA starts many, so
    bayes + ASHA gets a cap of its own."""
    factor = args.bayes_cap if name.startswith("bayes + ") else args.cap
    return int(factor * args.trials * MAX_STEPS)


def _run_one(job: tuple) -> Outcome:
    name, seed, args, optimum = job
    make_sampler, make_rule = strategies(args.min_steps, args.eta)[name]
    return simulate(make_sampler(seed), make_rule(), seed, args.workers, _cap(name, args), optimum)


def _map(fn: Callable[[Any], Any], jobs: list, n_jobs: int) -> list:
    if n_jobs <= 1:
        return [fn(j) for j in jobs]
    import multiprocessing as mp

    with mp.get_context("fork").Pool(n_jobs) as pool:
        return pool.map(fn, jobs, chunksize=1)


@dataclass
class Row:
    name: str
    seeds: int
    cap: int
    to_target: float  # compute where the median regret curve reaches the target
    at_fifth: float
    at_budget: float
    trials: float
    false_stop: float  # share of stopped trials (all seeds) whose final is in the best 10%
    stops: float  # median per seed
    # compute -> (25th percentile, median, 75th percentile) of the regret over seeds
    points: dict[int, tuple[float, float, float]]


def summarise(name: str, outcomes: list[Outcome], target: float, budget: int, cap: int) -> Row:
    grid = np.arange(1, cap + 1)
    median = np.median(np.array([o.regret_at(grid) for o in outcomes]), axis=0)
    hit = np.flatnonzero(median <= target)
    return Row(
        name=name,
        seeds=len(outcomes),
        cap=cap,
        to_target=float(grid[hit[0]]) if len(hit) else math.inf,
        at_fifth=float(median[budget // 5 - 1]),
        at_budget=float(median[budget - 1]) if budget <= cap else math.nan,
        trials=float(np.median([o.trials for o in outcomes])),
        false_stop=(float(np.mean([f <= TOP10 for o in outcomes for f in o.stopped]))
                    if any(o.stopped for o in outcomes) else math.nan),
        stops=float(np.median([len(o.stopped) for o in outcomes])),
        points={
            c: tuple(float(q) for q in np.percentile([o.regret_at(np.array([c]))[0]
                                                      for o in outcomes], [25, 50, 75]))
            for c in (budget // 10, budget // 5, 3 * budget // 10, 2 * budget // 5, budget)
            if c <= cap
        },
    )


def main(argv: list[str] | None = None) -> int:
    global NOISE, CROSSING
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--random-seeds", type=int, default=50, help="seeds of the random row")
    parser.add_argument("--reference-seeds", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=100, help="random search's full trials")
    parser.add_argument("--min-steps", type=int, default=1)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--cap", type=float, default=2.0, help="compute cap, x random's budget")
    parser.add_argument("--bayes-cap", type=float, default=0.2, help="the same, bayes + ASHA")
    parser.add_argument("--noise", type=float, default=NOISE, help="sd of each reported point")
    parser.add_argument("--crossing", type=float, default=CROSSING, help="decades of speed")
    parser.add_argument("--only", nargs="*", help="strategies to run (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (seeds in parallel)")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    NOISE, CROSSING = args.noise, args.crossing
    global TOP10
    TOP10 = top10_final()

    optimum = best_final()
    budget = args.trials * MAX_STEPS
    # The target: random search's median regret after its budget, on seeds of its own.
    ref_jobs = [("random", 10_000 + s, args, optimum) for s in range(args.reference_seeds)]
    refs = _map(_run_one, ref_jobs, args.jobs)
    target = float(np.median([o.regret_at(np.array([budget]))[0] for o in refs]))

    rows = []
    for name in strategies(args.min_steps, args.eta):
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        n_seeds = args.random_seeds if name == "random" else args.seeds  # random is cheap
        outcomes = _map(_run_one, [(name, s, args, optimum) for s in range(n_seeds)], args.jobs)
        row = summarise(name, outcomes, target, budget, _cap(name, args))
        rows.append(row)
        print(
            f"  {name}: {row.to_target:.0f} steps to target, {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    text = render(args, rows, target, optimum, argv)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


def render(args: Any, rows: list[Row], target: float, optimum: float, argv: Any) -> str:
    budget = args.trials * MAX_STEPS
    corr = ", ".join(f"step {k}: {v:.2f}" for k, v in rank_correlations().items())
    # Random search needs B to reach its median final regret: that defines the target.
    # (Its measured row estimates the same B; the gap shows how flat the curve is there.)
    base = budget
    lines = [
        f"Problem: 4-d synthetic curves of {MAX_STEPS} steps, noise sd {NOISE:g} per point, "
        f"crossing {CROSSING:g} (decades of learning speed across x0). Spearman rank "
        f"correlation of a noisy early value with the final loss: {corr}.",
        "",
        f"Target regret {target:.4f} (optimum {optimum:.4f}): random search's median regret "
        f"after {args.trials} trials x {MAX_STEPS} steps = B = {budget} steps, over "
        f"{args.reference_seeds} reference seeds. {args.workers} workers. ASHA/Hyperband "
        f"min_steps={args.min_steps}, reduction_factor={args.eta}, max_steps={MAX_STEPS}; "
        f"median rule grace_steps={args.min_steps}, min_trials=3; bayes = "
        '`make_searcher("bayes")` with its defaults, synced from every snapshot. Compute '
        f"capped at {_cap('random', args)} steps ({_cap('bayes + ASHA', args)} for bayes + "
        "ASHA, whose GP refits on every trial ASHA starts).",
        "",
        "| strategy | seeds | compute where the median regret reaches the target | "
        f"less compute than random (B / compute) | median regret at B/5 = {budget // 5} | "
        f"median regret at B = {budget} | median trials started | false-stop rate "
        "(stops / seed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        to_target = f"{r.to_target:.0f}" if r.to_target < math.inf else f"> {r.cap} (cap)"
        ratio = f"{base / r.to_target:.1f}x" if r.to_target < math.inf else "n/a"
        at_b = f"{r.at_budget:.4f}" if math.isfinite(r.at_budget) else "n/a (cap)"
        lines.append(
            f"| {r.name} | {r.seeds} | {to_target} | {ratio} | {r.at_fifth:.4f} | {at_b} | "
            f"{r.trials:.0f} | "
            + (f"{r.false_stop:.1%} ({r.stops:.0f})" if math.isfinite(r.false_stop)
               else "n/a (0)") + " |"
        )
    # The regret curves at a few budgets: where the bayes rows stop (their cap), too.
    budgets = sorted({c for r in rows for c in r.points})
    lines += [
        "",
        "Median regret [25th, 75th percentile] over seeds at a compute of:",
        "",
        "| strategy | " + " | ".join(f"{c}" for c in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for r in rows:
        cells = [
            f"{r.points[c][1]:.4f} [{r.points[c][0]:.4f}, {r.points[c][2]:.4f}]"
            if c in r.points else "n/a (cap)"
            for c in budgets
        ]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    command = shlex.join(["python", "benchmarks/bench_early_stopping.py", *(argv or sys.argv[1:])])
    lines += ["", f"Command: `{command}`"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
