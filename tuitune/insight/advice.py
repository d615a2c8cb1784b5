"""Advice: pure functions that return decisions with their evidence.

Each rule looks at the finished trials (points.py) or a running trial's curves
and returns `Advice`: one line, the evidence behind it, and the command that
would act on it (`space`, `tweak` or `kill`, sent by a front end to the engine,
never carried out here). docs/insight.md states every rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuitune.core.history import TrialView, current_params
from tuitune.core.space import (
    CategoricalParam,
    IntParam,
    MomentumParam,
    Param,
    Pow2Param,
    Space,
)

from tuitune.insight.importance import Importance
from tuitune.insight.points import TrialPoint, ranked, top_fraction

if TYPE_CHECKING:  # the model pulls in scipy; advice itself needs numpy at most
    from tuitune.insight.main_effects import MainEffect, MainEffects

TOP_QUARTER = 0.25
#: The zoom and widen rules need this many trials with a value (a quarter of 8 is 2).
MIN_FOR_REGION = 8
#: Zoom only parameters whose main effect explains at least this share of the
#: trials' variation: narrowing one that does not matter gains nothing, and on
#: noise every parameter stays below it.
ZOOM_MIN_SHARE = 0.1
#: Zoom only when the model predicts each trial from the others this well (its
#: leave-one-out R^2): a model that has fitted noise shows a "region" anywhere.
ZOOM_MIN_LOO_R2 = 0.3
#: The model's region of a parameter: where its main effect is within this share of
#: the effect's range above its lowest value.
ZOOM_EFFECT = 0.2
#: The zoomed range reaches this share of the old range past that region.
ZOOM_PAD = 0.05
#: Zoom only when the new range is at most this share of the old one (unit encoding).
ZOOM_MAX_SPAN = 0.9
#: "At an edge": within this share of the range from it.
EDGE = 0.1
#: A parameter whose share of importance is below this explains almost nothing.
FIX_SHARE = 0.05
#: Pruning boundary: at least this many bad trials past it, this share of bad
#: trials past it, and at most `BOUNDARY_INSIDE` of the trials inside it.
BOUNDARY_MIN_BAD, BOUNDARY_SHARE, BOUNDARY_INSIDE = 3, 0.8, 0.34
PLATEAU_REPORTS, PLATEAU_REL = 5, 0.005
OVERFIT_REPORTS = 4
_LR = re.compile(r"(^|_)(lr|learning_rate)$")


@dataclass(frozen=True)
class Advice:
    """A suggestion and its evidence.

    Attributes:
        kind: widen, zoom, fix, boundary, plateau or overfit.
        title: one line saying what to do.
        evidence: lines that show why.
        trial_ids: the trials the evidence rests on.
        command: the engine command that acts on it (None: nothing to send).
        args: that command's arguments.
    """

    kind: str
    title: str
    evidence: tuple[str, ...]
    trial_ids: tuple[int, ...] = ()
    command: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "evidence": list(self.evidence),
                "trials": list(self.trial_ids), "command": self.command, "args": self.args}


def fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _numeric(space: Space) -> list[Param]:
    return [p for p in space.dims if not isinstance(p, CategoricalParam)]


def _unit(param: Param, point: TrialPoint) -> float | None:
    try:
        u = float(param.to_unit(point.params[param.name]))
    except (KeyError, ValueError, TypeError):
        return None
    return u if -1e-9 <= u <= 1 + 1e-9 else None


def _bounds(param: Param) -> tuple[Any, Any]:
    return param.low, param.high  # type: ignore[attr-defined]


def _round_out(param: Param, value: float, down: bool) -> Any:
    """A bound a person would type: 2 significant digits, rounded outwards."""
    if isinstance(param, (IntParam, Pow2Param)):
        return int(value)
    if value == 0 or isinstance(param, MomentumParam):
        return float(value)
    digits = 1 - int(math.floor(math.log10(abs(value))))
    scale = 10.0**digits
    rounded = (math.floor if down else math.ceil)(value * scale) / scale
    low, high = _bounds(param)
    return float(min(max(rounded, low), high))


def _range_args(param: Param, low: Any, high: Any) -> dict[str, Any]:
    return {"low": low, "high": high}


# -- region rules ------------------------------------------------------------------------
def zoom(points: list[TrialPoint], space: Space, effects: MainEffects | None
         ) -> Advice | None:
    """Coarse to fine: narrow each parameter that matters to where the best quarter
    lies and the model's main effect is low.

    Needs the run's model (`effects`: main_effects.effect_curves); without it, no
    advice. docs/insight.md states the rule and benchmarks/bench_insight.py measures it.
    """
    top = _top_quarter(points)
    if top is None or effects is None or effects.loo_r2 < ZOOM_MIN_LOO_R2:
        return None
    ranges: dict[str, dict[str, Any]] = {}
    choices: dict[str, list[Any]] = {}
    lines, short = [], []
    for param in space.dims:
        curve = effects.curves.get(param.name)
        explained = effects.observed_share(param.name)
        if explained < ZOOM_MIN_SHARE or curve is None:
            continue
        share = f"explains {explained:.0%} of the variation"
        if isinstance(param, CategoricalParam):
            used = [c for c in param.choices if any(p.params.get(param.name) == c for p in top)]
            if used and len(used) < len(param.choices):
                choices[param.name] = used
                short.append(f"{param.name} in {{{', '.join(map(str, used))}}}")
                lines.append(f"{short[-1]} (of {len(param.choices)} choices; {share})")
            continue
        units = [u for u in (_unit(param, p) for p in top) if u is not None]
        if len(units) < len(top):
            continue
        low_m, high_m = _low_region(curve)
        lo, hi = max(min(units), low_m), min(max(units), high_m)
        if lo > hi:  # they disagree: the model averages over the other parameters
            lo, hi = low_m, high_m
        lo_u, hi_u = max(lo - ZOOM_PAD, 0.0), min(hi + ZOOM_PAD, 1.0)
        if hi_u - lo_u > ZOOM_MAX_SPAN:
            continue
        low = _round_out(param, param.from_unit(lo_u), down=True)
        high = _round_out(param, param.from_unit(hi_u), down=False)
        if not low < high:
            continue
        ranges[param.name] = _range_args(param, low, high)
        old_low, old_high = _bounds(param)
        short.append(f"{param.name} in [{fmt(low)}, {fmt(high)}]")
        lines.append(f"{short[-1]} (range was [{fmt(old_low)}, {fmt(old_high)}]; {share})")
    if not lines:
        return None
    ids = tuple(p.id for p in top)
    return Advice("zoom", f"zoom the search: {'; '.join(short)}", tuple(lines) + (
        f"the best quarter ({len(top)} of {len(points)} trials: "
        f"{', '.join(f'#{i}' for i in ids)}) lies there, where the model's main effect "
        f"is within {ZOOM_EFFECT:.0%} of its range from its lowest",
        f"the model predicts each trial from the others with R^2 {effects.loo_r2:.2f} "
        f"(leave-one-out)"), ids, "space", {"ranges": ranges, "choices": choices})


def _low_region(curve: MainEffect) -> tuple[float, float]:
    """The unit interval spanning where a main effect is within ZOOM_EFFECT of its
    range above its lowest value."""
    means = curve.means
    floor = float(means.min())
    low = curve.units[means <= floor + ZOOM_EFFECT * (float(means.max()) - floor)]
    return float(low.min()), float(low.max())


def widen(points: list[TrialPoint], space: Space) -> list[Advice]:
    """The best trials sit at an edge of a range: widen it past that edge."""
    top = _top_quarter(points)
    if top is None:
        return []
    out = []
    for param in _numeric(space):
        units = [_unit(param, p) for p in top]
        best = units[0]
        if best is None:
            continue
        for side, near in (("low", lambda u: u <= EDGE), ("high", lambda u: u >= 1 - EDGE)):
            at_edge = [p for p, u in zip(top, units, strict=True) if u is not None and near(u)]
            if not near(best) or len(at_edge) * 2 < len(top):
                continue
            bound = _widened(param, side)
            if bound is None:
                continue
            low, high = _bounds(param)
            new = (bound, high) if side == "low" else (low, bound)
            shown = ", ".join(f"#{p.id} {param.name}={fmt(p.params[param.name])} "
                              f"({fmt(p.value)})" for p in at_edge)
            out.append(Advice(
                "widen", f"widen {param.name} past its {side} edge: [{fmt(new[0])}, "
                         f"{fmt(new[1])}]",
                (f"{len(at_edge)} of the best {len(top)} trials, the best among them, sit "
                 f"at the {side} edge of [{fmt(low)}, {fmt(high)}]", shown),
                tuple(p.id for p in at_edge), "space",
                {"ranges": {param.name: _range_args(param, *new)}}))
    return out


def _widened(param: Param, side: str) -> Any:
    low, high = _bounds(param)
    if isinstance(param, Pow2Param):
        return max(low // 4, 1) if side == "low" else high * 4
    if isinstance(param, MomentumParam):
        gap = (1 - low) * 10 if side == "low" else (1 - high) / 10
        return max(1 - gap, 0.0) if side == "low" else 1 - gap
    log = getattr(param, "log", False)
    if log:
        value = low / 10 if side == "low" else high * 10
        if isinstance(param, IntParam):
            value = max(int(value), 1) if side == "low" else int(math.ceil(value))
        return None if value == (low if side == "low" else high) else value
    width = (high - low) / 2
    value = low - width if side == "low" else high + width
    return int(round(value)) if isinstance(param, IntParam) else float(value)


def _top_quarter(points: list[TrialPoint]) -> list[TrialPoint] | None:
    valued = [p for p in points if math.isfinite(p.loss)]
    if len(valued) < MIN_FOR_REGION:
        return None
    return top_fraction(valued, TOP_QUARTER, 2)


def fix(points: list[TrialPoint], space: Space, importance: Importance) -> list[Advice]:
    """A parameter explains almost nothing: fix it at the best trial's value."""
    if not importance.params or len(space.dims) < 2:
        return []
    best = next((p for p in ranked(points) if math.isfinite(p.loss)), None)
    if best is None:
        return []
    out = []
    for imp in importance.params:
        if imp.importance >= FIX_SHARE or imp.name not in best.params:
            continue
        value = best.params[imp.name]
        try:
            value = space[imp.name].validate(value)
        except ValueError:
            continue
        out.append(Advice(
            "fix", f"fix {imp.name} at {fmt(value)}: it explains almost nothing",
            (f"{imp.name} explains {imp.importance:.1%} of the variation ({importance.method}, "
             f"{imp.n_trials} trials; below {FIX_SHARE:.0%})",
             f"{fmt(value)} is its value in the best trial, #{best.id}"),
            (best.id,), "space", {"fix": {imp.name: value}}))
    return out


def boundary(points: list[TrialPoint], space: Space) -> list[Advice]:
    """Trials past some value of a parameter diverged or were pruned early."""
    out = []
    for param in _numeric(space):
        placed = sorted(((u, p) for p in points if (u := _unit(param, p)) is not None),
                        key=lambda up: up[0])
        found = _split(placed, above=True) or _split(placed, above=False)
        if found is None:
            continue
        above, past, inside = found
        edge = past[0][1].params[param.name] if above else past[-1][1].params[param.name]
        bad_past = [p for _, p in past if p.bad]
        bad_inside = sum(p.bad for _, p in inside)
        word = ">=" if above else "<="
        low, high = _bounds(param)
        keep = (low, _round_out(param, inside[-1][1].params[param.name], down=False)) if above \
            else (_round_out(param, inside[0][1].params[param.name], down=True), high)
        out.append(Advice(
            "boundary", f"{param.name} {word} {fmt(edge)}: {len(bad_past)} of {len(past)} "
                        f"trials diverged or were pruned",
            (f"{param.name} {word} {fmt(edge)}: {len(bad_past)} of {len(past)} diverged, "
             f"failed or were pruned early",
             f"inside: {bad_inside} of {len(inside)}",
             f"narrowing to [{fmt(keep[0])}, {fmt(keep[1])}] leaves them out"),
            tuple(p.id for p in bad_past), "space",
            {"ranges": {param.name: _range_args(param, *keep)}} if keep[0] < keep[1] else {}))
    return out


def _split(placed: list[tuple[float, TrialPoint]], above: bool
           ) -> tuple[bool, list, list] | None:
    """The tail (above or below a split) that is mostly bad while the rest is not:
    the one holding the most bad trials, and of those the one with fewest good."""
    seq = placed if above else placed[::-1]
    bad = [int(p.bad) for _, p in seq]
    n = len(seq)
    total = sum(bad)
    best: tuple[int, int, int] | None = None
    bad_inside = 0
    for i in range(1, n):  # one pass: bad counts inside [0, i) and past [i, n)
        bad_inside += bad[i - 1]
        if seq[i][0] == seq[i - 1][0]:
            continue
        bad_past, n_past = total - bad_inside, n - i
        if (bad_past >= BOUNDARY_MIN_BAD and bad_past >= BOUNDARY_SHARE * n_past
                and bad_inside <= BOUNDARY_INSIDE * i):
            key = (bad_past, -n_past, i)
            best = key if best is None or key[:2] > best[:2] else best
    if best is None:
        return None
    inside, past = seq[:best[2]], seq[best[2]:]
    return (above, past, inside) if above else (above, past[::-1], inside[::-1])


# -- running trials ------------------------------------------------------------------------
def plateau(trial: TrialView, space: Space, mode: str,
            reports: int = PLATEAU_REPORTS) -> Advice | None:
    """The objective has not improved for `reports` reports: lower the learning rate
    ten times (a tweak, as learning-rate annealing does)."""
    curve = [v for _, v in trial.curve if math.isfinite(v)]
    if len(curve) <= reports:
        return None
    sign = 1.0 if mode == "min" else -1.0
    before = min(sign * v for v in curve[:-reports])
    recent = min(sign * v for v in curve[-reports:])
    if before - recent > PLATEAU_REL * max(abs(before), 1e-12):
        return None
    lr = next((p for p in space.params if _LR.search(p.name) and p.mutable), None)
    if lr is None:
        return None
    now = current_params(trial.params, trial.changes).get(lr.name)
    if not isinstance(now, (int, float)):
        return None
    new = float(now) / 10
    try:
        new = lr.validate(new)
    except ValueError:
        return None
    return Advice(
        "plateau", f"trial {trial.id} has plateaued: lower {lr.name} to {fmt(new)}",
        (f"its best value in the last {reports} reports ({fmt(sign * recent)}) is no "
         f"better than before them ({fmt(sign * before)}) by {PLATEAU_REL:.1%}",
         f"{lr.name} is {fmt(now)} now; a tenth of it, as in learning-rate annealing"),
        (trial.id,), "tweak", {"trial_id": trial.id, "set": {lr.name: new}})


def overfitting(trial_id: int, val: Sequence[tuple[int, float]],
                train: Sequence[tuple[int, float]], val_mode: str,
                reports: int = OVERFIT_REPORTS) -> Advice | None:
    """The validation metric worsened for `reports` reports while the training loss
    kept falling: overfitting; stop the trial (or clone it from an earlier checkpoint)."""
    if len(val) <= reports or len(train) <= reports:
        return None
    sign = 1.0 if val_mode == "min" else -1.0
    v = [sign * x for _, x in val]
    best_i = min(range(len(v)), key=lambda i: v[i])
    worse_for = len(v) - 1 - best_i
    t_then = _value_at(train, val[best_i][0])
    t_now = train[-1][1]
    if worse_for < reports or t_then is None or not t_now < t_then:
        return None
    return Advice(
        "overfit", f"trial {trial_id} is overfitting: stop it or clone it from its "
                   f"checkpoint near step {val[best_i][0]}",
        (f"validation best {fmt(sign * v[best_i])} at step {val[best_i][0]}, no better in "
         f"the {worse_for} reports since (now {fmt(val[-1][1])})",
         f"training loss fell from {fmt(t_then)} to {fmt(t_now)} meanwhile"),
        (trial_id,), "kill", {"trial_id": trial_id})


def _value_at(curve: Sequence[tuple[int, float]], step: int) -> float | None:
    out = None
    for s, v in curve:
        if s > step:
            break
        out = v
    return out
