"""Load and validate an experiment spec (TOML) into frozen dataclasses.

Every problem is reported as one line naming the file and the key path, e.g.
`exp.toml: space.lr.low: must be below high (0.1 >= 0.01)`.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import math
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tuitune.core.conditions import Clause, ConditionError, parse_condition, satisfiable
from tuitune.core.history import Constraint, Objective
from tuitune.core.objective_table import objective_table
from tuitune.core.roles import ROLES
from tuitune.core.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    MomentumParam,
    Param,
    Pow2Param,
    Space,
    SpaceError,
)
from tuitune.core.textsafe import escape_controls

#: Placeholders every command may use besides the parameter names.
BUILTIN_PLACEHOLDERS = frozenset({"python", "trial_id", "trial_dir", "run_dir"})
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: SQLite stores integers in 64 bits; a larger one would fail at the first write.
_INT_LIMIT = 2**63
#: Longest accepted duration (timeouts): ten years. Longer ones overflow timers.
MAX_DURATION = 10 * 365 * 86400.0
#: Longest accepted grace between SIGTERM and SIGKILL.
MAX_KILL_GRACE = 86400.0
#: More GPUs per trial, or a GPU index above this, is a typo, not a machine.
MAX_GPUS = 1024


#: One element of `command`: an argument, or a group of arguments kept or left out
#: together.
Arg = str | tuple[str, ...]


class SpecError(ValueError):
    """A spec is invalid; str() is one line naming file and key path."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file, self.key, self.message = file, key, message
        where = f"{file}: {key}: " if key else f"{file}: "
        # Keys and values come from the file: a newline or an escape sequence in
        # one must not break the line or reach the terminal.
        super().__init__(escape_controls(where + message))


@dataclass(frozen=True)
class Budget:
    max_trials: int | None = None
    max_concurrent: int = 1
    trial_timeout: float | None = None
    experiment_timeout: float | None = None
    max_steps: int | None = None


@dataclass(frozen=True)
class Resources:
    gpus_per_trial: float | None = None  # None: one whole GPU each where there are GPUs
    gpus: tuple[int, ...] | None = None  # None: every visible GPU
    gpu_memory_mb: int | None = None
    memory_growth: bool = True


@dataclass(frozen=True)
class SearchConfig:
    strategy: str = "manual"
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Runs (names, prefixes or folders) whose finished trials seed the searcher.
    warm_start: tuple[str, ...] = ()


#: What `[notify] on` may name: trial endings and run endings (the event kinds the
#: store records), tweaks applied, and the three the supervisor watches for.
NOTIFY_KINDS = ("completed", "failed", "diverged", "pruned", "timed_out", "killed", "lost",
                "finished", "stopped", "tweak_applied", "stalled", "gpu_idle", "new_best")
NOTIFY_DEFAULT_ON = ("failed", "diverged", "timed_out", "finished", "stopped", "stalled",
                     "gpu_idle", "new_best")


@dataclass(frozen=True)
class NotifyConfig:
    """`[notify]`: which events to be told of, and how (docs/spec.md)."""

    on: tuple[str, ...] = NOTIFY_DEFAULT_ON
    command: tuple[str, ...] = ()  # argv, never a shell; the event as JSON on stdin
    timeout: float = 10.0  # seconds a command may take before it is killed
    burst: int = 3  # at most this many notifications per window; then one summary
    window: float = 60.0
    stall_after: float | None = 600.0  # a running trial silent this long is stalled
    gpu_idle_after: float | None = 300.0  # a GPU of running trials idle this long
    bell: bool = False  # the attached TUI rings the terminal bell
    osc: bool = False  # ... and sends a desktop notification (OSC 9 and OSC 777)
    enabled: bool = False  # the spec has a [notify] table (else nothing is watched)


@dataclass(frozen=True)
class Spec:
    """A validated experiment."""

    name: str
    path: Path
    #: argv: strings, and groups (tuples) left out whole when a parameter in them
    #: is inactive (see `tuitune.engine.launch.render_argv`).
    command: tuple[Arg, ...]
    workdir: Path
    env: Mapping[str, str]
    space: Space
    objective: Objective
    secondary: tuple[str, ...] = ()
    #: Every objective (the first is `objective`); empty for one objective.
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    budget: Budget = Budget()
    resources: Resources = Resources()
    search: SearchConfig = SearchConfig()
    stopping: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    notify: NotifyConfig = NotifyConfig()
    metrics_source: str = "auto"
    metrics_include: tuple[str, ...] = ()
    metrics_exclude: tuple[str, ...] = ()
    kill_grace: float = 10.0
    executor: str = "local"
    executor_options: Mapping[str, Any] = field(default_factory=dict)
    #: Parameters the script reads through tuitune.trial.params() (`passed = "api"`).
    api_params: frozenset[str] = frozenset()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def with_executor(self, kind: str, **options: Any) -> Spec:
        """The same experiment on another executor (e.g. `tuitune run --ray ADDRESS`)."""
        raw = dict(self.raw)
        raw["executor"] = {"kind": kind, **options}
        return parse_spec(raw, self.path)

    def stdout_not_metrics(self) -> frozenset[str]:
        """Names never read from a trial's output as metrics: the parameters' (scripts
        echo their settings at start) and `[metrics] exclude`, unless `include` or
        the objective names them."""
        names = {p.name for p in self.space} | set(self.metrics_exclude)
        return frozenset(names - {*self.metrics_include, *self.objective_metrics()})

    @property
    def all_objectives(self) -> tuple[Objective, ...]:
        return self.objectives or (self.objective,)

    def objective_metrics(self) -> tuple[str, ...]:
        """Every metric [objective] names: objectives, secondary, constraints."""
        names = [o.metric for o in self.all_objectives] + list(self.secondary)
        names += [c.metric for c in self.constraints]
        return tuple(dict.fromkeys(names))

    def to_json(self) -> str:
        """The spec as loaded, to store with the run (relative paths made absolute)."""
        raw = dict(self.raw)
        raw["workdir"] = str(self.workdir)
        return json.dumps({"path": str(self.path), "spec": raw})


_TOP_KEYS = {
    "name", "command", "workdir", "env", "space", "objective", "budget", "resources",
    "search", "stopping", "metrics", "kill_grace", "executor", "notify",
}


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file. Raises SpecError (one line) on any problem."""
    path = Path(path)
    label = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(label, "", "no such file") from None
    except OSError as exc:
        raise SpecError(label, "", f"cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise SpecError(label, "", f"not UTF-8 text{hint}: a spec is a UTF-8 TOML file "
                                   f"(bad byte at offset {exc.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(label, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(label, "", "not valid TOML: nested too deeply") from None
    return parse_spec(raw, path)


def load_spec_json(text: str) -> Spec:
    """Rebuild a spec stored with a run (see Spec.to_json)."""
    stored = json.loads(text)
    return parse_spec(stored["spec"], Path(stored["path"]))


def parse_spec(raw: Mapping[str, Any], path: Path) -> Spec:
    v = _Validator(str(path))
    v.keys(raw, "", _TOP_KEYS)
    _check_values(v, raw, "")
    base = path.resolve().parent
    name = v.typed(raw.get("name", path.stem), "name", str)
    space_table = v.table(raw, "space", required=True)
    space = _space(v, space_table)
    command = _command(v, raw.get("command"), space)
    workdir = (base / v.typed(raw.get("workdir", "."), "workdir", str)).resolve()
    if not _is_dir(workdir):
        raise SpecError(v.file, "workdir", f"directory {workdir} does not exist")
    _check_executable(v, str(command[0]), workdir)
    env = _env(v, v.table(raw, "env"))
    objectives, secondary, constraints = objective_table(
        v, v.table(raw, "objective", required=True))
    objective = objectives[0]
    budget = _budget(v, v.table(raw, "budget"))
    metrics = v.table(raw, "metrics")
    v.keys(metrics, "metrics", {"source", "include", "exclude"})
    source = v.choice(metrics.get("source", "auto"), "metrics.source", ("auto", "api", "stdout"))
    include, exclude = _metric_names(v, metrics, "include"), _metric_names(v, metrics, "exclude")
    _check_metric_lists(v, include, exclude, objectives, secondary, constraints)
    executor = v.table(raw, "executor") if isinstance(raw.get("executor"), dict) else {
        "kind": v.typed(raw.get("executor", "local"), "executor", str)}
    kind = v.choice(executor.get("kind", "local"), "executor.kind", ("local", "ray"))
    if kind == "ray" and importlib.util.find_spec("ray") is None:
        raise v.fail("executor", 'the Ray executor needs Ray: pip install "tuitune[ray]"')
    spec = Spec(
        name=name, path=path.resolve(), command=command, workdir=workdir,
        env=dict(env), space=space, objective=objective, secondary=secondary,
        objectives=objectives if len(objectives) > 1 else (), constraints=constraints,
        budget=budget, resources=_resources(v, v.table(raw, "resources")),
        search=_search(v, v.table(raw, "search")),
        stopping=_stopping(v, v.table(raw, "stopping")),
        notify=_notify(v, v.table(raw, "notify"), enabled="notify" in raw),
        metrics_source=source, metrics_include=include, metrics_exclude=exclude,
        kill_grace=v.number(raw.get("kill_grace", 10.0), "kill_grace", minimum=0.0,
                            maximum=MAX_KILL_GRACE),
        executor=kind,
        executor_options={k: val for k, val in executor.items() if k != "kind"},
        api_params=_passed(v, space_table),
        raw=dict(raw),
    )
    _check_strategies(v, spec)
    return spec


class _Validator:
    """Small typed accessors that raise SpecError with the key path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(self.file, key, message)

    def keys(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                key = f"{where}.{k}" if where else k
                raise self.fail(key, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, raw: Mapping[str, Any], key: str, required: bool = False) -> dict[str, Any]:
        if key not in raw:
            if required:
                raise self.fail(key, "missing (required)")
            return {}
        val = raw[key]
        if not isinstance(val, dict):
            raise self.fail(key, f"expected a table, got {type(val).__name__}")
        return val

    def typed(self, val: Any, key: str, kind: type) -> Any:
        if not isinstance(val, kind) or (kind is int and isinstance(val, bool)):
            raise self.fail(key, f"expected {kind.__name__}, got {val!r}")
        return val

    def number(self, val: Any, key: str, minimum: float | None = None,
               integer: bool = False, above: float | None = None,
               maximum: float | None = None) -> Any:
        ok = isinstance(val, int) if integer else isinstance(val, (int, float))
        if not ok or isinstance(val, bool):
            raise self.fail(key, f"expected {'an integer' if integer else 'a number'}, got {val!r}")
        if not math.isfinite(val):  # NaN compares false with every bound below
            raise self.fail(key, f"expected a finite number, got {val!r}")
        if minimum is not None and val < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, got {val!r}")
        if above is not None and val <= above:
            raise self.fail(key, f"must be above {above:g}, got {val!r}")
        if maximum is not None and val > maximum:
            raise self.fail(key, f"must be at most {maximum:g}, got {val!r}")
        return val

    def choice(self, val: Any, key: str, choices: tuple[str, ...]) -> str:
        if val not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}, got {val!r}")
        return val

    def duration(self, val: Any, key: str) -> float | None:
        if val is None:
            return None
        try:
            return parse_duration(val)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None


def parse_duration(val: Any) -> float:
    """Seconds from a number or a text like '90s', '10m', '2h', '1d' (ValueError: one line)."""
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        seconds = float(val)
    else:
        m = _DURATION.match(val) if isinstance(val, str) else None
        if not m:
            raise ValueError(f"expected seconds or a duration like '90s', '10m', '2h', "
                             f"got {val!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not seconds > 0:
        raise ValueError(f"must be positive, got {val!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"must be at most ten years, got {val!r}")
    return seconds


_PARAM_KEYS = {
    "float": {"low", "high", "log"},
    "int": {"low", "high", "log"},
    "pow2": {"low", "high"},
    "momentum": {"low", "high"},
    "categorical": {"choices"},
    "fixed": {"value"},
}


def _space(v: _Validator, table: dict[str, Any]) -> Space:
    if not table:
        raise v.fail("space", "the search space is empty: define at least one parameter")
    params = [_param(v, name, p) for name, p in table.items()]
    _check_conditions(v, params)
    return Space(tuple(params))


def _check_conditions(v: _Validator, params: list[Param]) -> None:
    """Refuse a condition that names an unknown parameter, compares a parameter
    that has no order, forms a cycle, conditions a mutable parameter, or can never
    hold (with the conditions it depends on)."""
    index = {p.name: p for p in params}
    for p in params:
        for c in (p.when.clauses if p.when else ()):
            key = f"space.{p.name}.when"
            if c.name not in index:
                raise v.fail(key, f"names an unknown parameter {c.name!r} (space has: "
                                  f"{', '.join(index)})")
            if c.name == p.name:
                raise v.fail(key, f"{p.name} cannot depend on itself")
            parent = index[c.name]
            if c.op in ("<", "<=", ">", ">=") and (
                    isinstance(parent, CategoricalParam) or isinstance(c.value, (str, bool))):
                raise v.fail(key, f"{c}: only numbers are ordered; compare "
                                  f"{'a categorical' if isinstance(parent, CategoricalParam) else 'it'} "
                                  "with == or !=")
            if parent.mutable:
                raise v.fail(key, f"{c.name} decides whether {p.name} exists, so it cannot be "
                                  f"mutable (a tweak would change the trial's arguments): "
                                  f"remove mutable from space.{c.name}")
    try:
        Space(tuple(params))
    except SpaceError as exc:  # a cycle: name the first parameter on it
        first = str(exc).rsplit(": ", 1)[-1].split(" -> ")[0]
        raise v.fail(f"space.{first}.when", str(exc)) from None
    for p in params:
        if p.when is None:
            continue
        needed = _clauses_needed(p, index)
        for name in dict.fromkeys(c.name for c in needed):
            on_it = [c for c in needed if c.name == name]
            if not satisfiable(on_it, _domain(index[name])):
                raise v.fail(f"space.{p.name}.when",
                             f"can never hold: no value of {name} ({index[name].describe()}) "
                             f"satisfies {' and '.join(map(str, on_it))}")


def _clauses_needed(p: Param, index: Mapping[str, Param]) -> list[Clause]:
    """Every clause that must hold for `p` to exist: its own, and those of the
    parameters they name, recursively (the conditions are acyclic here)."""
    out: list[Clause] = []
    for c in (p.when.clauses if p.when else ()):
        out.append(c)
        out += _clauses_needed(index[c.name], index)
    return out


def _domain(p: Param) -> Any:
    """A parameter's values for `satisfiable`: a list, or (low, high, integer)."""
    if isinstance(p, FixedParam):
        return [p.value]
    if isinstance(p, (CategoricalParam, Pow2Param)):
        return p.values()
    if isinstance(p, IntParam):
        return p.values() if p.high - p.low < 10_000 else (p.low, p.high, True)
    return (p.low, p.high, False)  # type: ignore[attr-defined]


def _param(v: _Validator, name: str, p: Any) -> Param:
    key = f"space.{name}"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise v.fail(key, "parameter names must be identifiers (letters, digits, _)")
    if name in BUILTIN_PLACEHOLDERS:
        raise v.fail(key, f"{{{name}}} is a built-in placeholder; give the parameter "
                          "another name")
    if not isinstance(p, dict):  # `lr = 0.1` is shorthand for a fixed value
        return FixedParam(name=name, value=_scalar(v, p, key))
    kind = v.choice(p.get("type"), f"{key}.type", tuple(_PARAM_KEYS))
    v.keys(p, key, _PARAM_KEYS[kind] | {"type", "mutable", "default", "passed", "role", "when"})
    mutable = v.typed(p.get("mutable", False), f"{key}.mutable", bool)
    role = v.choice(p["role"], f"{key}.role", ROLES) if "role" in p else ""
    when = None
    if "when" in p:  # a fixed parameter may have one too (e.g. fixed by a space edit)
        try:
            when = parse_condition(p["when"])
        except ConditionError as exc:
            raise v.fail(f"{key}.when", str(exc)) from None
    if kind == "fixed":
        if "value" not in p:
            raise v.fail(f"{key}.value", "missing (required for a fixed parameter)")
        return FixedParam(name=name, value=_scalar(v, p["value"], f"{key}.value"),
                          mutable=mutable, role=role, when=when)
    if kind == "categorical":
        choices = p.get("choices")
        if not isinstance(choices, list) or not choices:
            raise v.fail(f"{key}.choices", "expected a non-empty list")
        for i, choice in enumerate(choices):
            _scalar(v, choice, f"{key}.choices[{i}]")
        if len(set(map(json.dumps, choices))) != len(choices):
            raise v.fail(f"{key}.choices", "choices must be distinct")
        param: Param = CategoricalParam(name=name, choices=tuple(choices), mutable=mutable)
    else:
        param = _numeric_param(v, key, name, kind, p, mutable)
    changes: dict[str, Any] = {"role": role} if role else {}
    if when is not None:
        changes["when"] = when
    if "default" in p:
        try:
            changes["default"] = param.validate(p["default"])
        except SpaceError as exc:
            raise v.fail(f"{key}.default", str(exc).split(": ", 1)[-1]) from None
    return type(param)(**{**param.__dict__, **changes}) if changes else param


def _passed(v: _Validator, table: dict[str, Any]) -> frozenset[str]:
    """`passed = "api"`: the script reads the parameter with tuitune.trial.params()."""
    names = set()
    for name, p in table.items():
        if isinstance(p, dict) and "passed" in p:
            v.choice(p["passed"], f"space.{name}.passed", ("api",))
            names.add(name)
    return frozenset(names)


def unused_params(spec: Spec) -> list[str]:
    """Searched parameters the trial never receives: neither a `{name}` placeholder in
    `command` nor marked `passed = "api"`. Searching them tunes nothing."""
    placed = {ph for arg in command_args(spec.command) for ph in PLACEHOLDER.findall(arg)}
    return [p.name for p in spec.space.params if not isinstance(p, FixedParam)
            and p.name not in placed and p.name not in spec.api_params]


def unused_params_warning(spec: Spec) -> str | None:
    names = unused_params(spec)
    if not names:
        return None
    listed = ", ".join(names)
    return (f"warning: {listed} {'is' if len(names) == 1 else 'are'} searched but never "
            f"passed to the command: add a {{{names[0]}}} placeholder to `command`, or, if the "
            f"script reads {'it' if len(names) == 1 else 'them'} with tuitune.trial.params(), "
            f'mark {"it" if len(names) == 1 else "each"} with passed = "api" in its '
            f"[space.{names[0]}] table")


def _numeric_param(v: _Validator, key: str, name: str, kind: str, p: dict[str, Any],
                   mutable: bool) -> Param:
    integer = kind in ("int", "pow2")
    for bound in ("low", "high"):
        if bound not in p:
            raise v.fail(f"{key}.{bound}", "missing (required)")
        v.number(p[bound], f"{key}.{bound}", integer=integer)
    low, high = p["low"], p["high"]
    if low >= high:
        raise v.fail(f"{key}.low", f"must be below high ({low!r} >= {high!r})")
    if not math.isfinite(float(high) - float(low)):  # sampling would give inf or nan
        raise v.fail(key, f"the range [{low!r}, {high!r}] is too wide")
    log = v.typed(p.get("log", False), f"{key}.log", bool)
    if log and low <= 0:
        raise v.fail(f"{key}.low", f"a log scale needs low > 0, got {low!r}")
    if kind == "float":
        return FloatParam(name=name, low=float(low), high=float(high), log=log, mutable=mutable)
    if kind == "int":
        return IntParam(name=name, low=low, high=high, log=log, mutable=mutable)
    if kind == "pow2":
        for bound, val in (("low", low), ("high", high)):
            if val < 1 or val & (val - 1):
                raise v.fail(f"{key}.{bound}", f"expected a power of two, got {val!r}")
        return Pow2Param(name=name, low=low, high=high, mutable=mutable)
    if not (0 <= low and high < 1):
        raise v.fail(key, f"a momentum range must lie in [0, 1), got [{low!r}, {high!r}]")
    return MomentumParam(name=name, low=float(low), high=float(high), mutable=mutable)


def _command(v: _Validator, command: Any, space: Space) -> tuple[Arg, ...]:
    if command is None:
        raise v.fail("command",
                     "missing (required): an argv list, e.g. [\"{python}\", \"train.py\"]")
    if isinstance(command, str):
        raise v.fail("command", "must be a list of arguments, not a shell string "
                                "(e.g. [\"python\", \"train.py\", \"--lr\", \"{lr}\"])")
    if not isinstance(command, list) or not command:
        raise v.fail("command", "expected a non-empty list of strings")
    if not isinstance(command[0], str):
        raise v.fail("command[0]", f"expected the program (a string), got {command[0]!r}")
    out: list[Arg] = []
    for i, arg in enumerate(command):
        if isinstance(arg, list):  # an argument group, left out whole when inactive
            if not arg or not all(isinstance(a, str) for a in arg):
                raise v.fail(f"command[{i}]", "an argument group is a non-empty list of "
                                              "strings")
            for j, a in enumerate(arg):
                _check_placeholders(v, f"command[{i}][{j}]", a, space, grouped=True)
            out.append(tuple(arg))
            continue
        if not isinstance(arg, str):
            raise v.fail(f"command[{i}]", f"expected a string, got {arg!r}")
        _check_placeholders(v, f"command[{i}]", arg, space, grouped=False)
        out.append(arg)
    return tuple(out)


def _check_placeholders(v: _Validator, key: str, arg: str, space: Space,
                        grouped: bool) -> None:
    for ph in PLACEHOLDER.findall(arg):
        if ph not in space and ph not in BUILTIN_PLACEHOLDERS:
            raise v.fail(key, f"placeholder {{{ph}}} names no parameter (space has: "
                              f"{', '.join(space.names)})")
        when = space[ph].when if ph in space else None
        if when is not None and not grouped:
            raise v.fail(key, f"{{{ph}}} exists only when {when}: put it in an argument "
                              f"group that is left out with it, e.g. [\"--{ph}\", \"{{{ph}}}\"]")


def command_args(command: tuple[Arg, ...]) -> list[str]:
    """Every argument of a command, groups flattened (to look for placeholders)."""
    return [a for arg in command for a in ((arg,) if isinstance(arg, str) else arg)]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, a folder we may not enter
        return False


def _check_executable(v: _Validator, program: str, workdir: Path) -> None:
    if PLACEHOLDER.search(program):
        return  # e.g. {python}: filled in at launch
    if "/" in program:
        try:
            exists = (workdir / program).exists()
        except OSError:
            exists = False
        if not exists:
            raise v.fail("command[0]", f"{program} does not exist (relative to {workdir})")
    elif shutil.which(program) is None:
        raise v.fail("command[0]", f"{program!r} is not found on PATH")


def _env(v: _Validator, table: dict[str, Any]) -> dict[str, str]:
    for name, value in table.items():
        if not name or "=" in name:  # execve would split or refuse it
            raise v.fail(f"env.{name}", "an environment variable name must be non-empty "
                                        "and without '='")
        v.typed(value, f"env.{name}", str)
    return dict(table)


#: Values a parameter can take: they go into argv as text and into the store as JSON.
_SCALARS = (str, int, float, bool)


def _scalar(v: _Validator, value: Any, key: str) -> Any:
    if not isinstance(value, _SCALARS):
        raise v.fail(key, "expected a string, number or boolean, got a "
                          f"{_toml_type(value)}")
    return value


def _toml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "list"
    if isinstance(value, (datetime.date, datetime.time)):
        return "date or time"
    return type(value).__name__


def _check_values(v: _Validator, value: Any, key: str) -> None:
    """Refuse, anywhere in the spec, what no part of tuitune can carry: numbers that are
    not finite or overflow SQLite, NUL (argv, the environment and paths end at it) and
    dates (JSON, in which the spec is stored, has none)."""
    if isinstance(value, dict):
        for k, item in value.items():
            sub = f"{key}.{k}" if key else k
            if "\0" in k:
                raise v.fail(sub, "a key may not contain a NUL character")
            _check_values(v, item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(v, item, f"{key}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise v.fail(key, f"expected a finite number, got {value!r}")
    elif isinstance(value, int) and not -_INT_LIMIT <= value < _INT_LIMIT:
        raise v.fail(key, f"integer out of range (at most 64 bits), got {value!r}")
    elif isinstance(value, str) and "\0" in value:
        raise v.fail(key, "may not contain a NUL character")
    elif isinstance(value, (datetime.date, datetime.time)):
        raise v.fail(key, f"dates and times are not supported here, got {value.isoformat()}")


def _metric_names(v: _Validator, t: dict[str, Any], key: str) -> tuple[str, ...]:
    names = t.get(key, [])
    where = f"metrics.{key}"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise v.fail(where, f"expected a list of metric names, got {names!r}")
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][\w./]*", name):
            raise v.fail(where, f"{name!r} is not a metric name (a letter or _, then "
                                "letters, digits, _ . /)")
    return tuple(names)


def _check_metric_lists(v: _Validator, include: tuple[str, ...], exclude: tuple[str, ...],
                        objectives: tuple[Objective, ...], secondary: tuple[str, ...],
                        constraints: tuple[Constraint, ...]) -> None:
    named = {o.metric for o in objectives} | set(secondary) | {c.metric for c in constraints}
    for name in exclude:
        if name in include:
            raise v.fail("metrics.exclude", f"{name!r} is in metrics.include too")
        if name in named:
            raise v.fail("metrics.exclude", f"{name!r} is a metric of [objective]; it cannot "
                                            "be excluded")


def _budget(v: _Validator, t: dict[str, Any]) -> Budget:
    v.keys(t, "budget", {"max_trials", "max_concurrent", "trial_timeout",
                         "experiment_timeout", "max_steps"})
    def opt_int(key: str, minimum: int) -> int | None:
        return None if key not in t else v.number(t[key], f"budget.{key}", minimum, integer=True)
    return Budget(
        max_trials=opt_int("max_trials", 1),
        max_concurrent=opt_int("max_concurrent", 1) or 1,
        trial_timeout=v.duration(t.get("trial_timeout"), "budget.trial_timeout"),
        experiment_timeout=v.duration(t.get("experiment_timeout"), "budget.experiment_timeout"),
        max_steps=opt_int("max_steps", 1),
    )


def _resources(v: _Validator, t: dict[str, Any]) -> Resources:
    v.keys(t, "resources", {"gpus_per_trial", "gpus", "gpu_memory_mb", "memory_growth"})
    share = t.get("gpus_per_trial")
    if share is not None:
        v.number(share, "resources.gpus_per_trial", minimum=0, maximum=MAX_GPUS)
    if share is not None and share > 1 and share != int(share):
        raise v.fail("resources.gpus_per_trial", f"above 1 it must be whole, got {share!r}")
    gpus = t.get("gpus", "all")
    if gpus == "all":
        gpus_t = None
    elif isinstance(gpus, list) and all(isinstance(g, int) and not isinstance(g, bool)
                                        and 0 <= g < MAX_GPUS for g in gpus):
        gpus_t = tuple(gpus)
    else:
        raise v.fail("resources.gpus", f"expected \"all\" or a list of GPU indices, got {gpus!r}")
    mem = t.get("gpu_memory_mb")
    if mem is not None:
        v.number(mem, "resources.gpu_memory_mb", minimum=1, integer=True)
    growth = v.typed(t.get("memory_growth", True), "resources.memory_growth", bool)
    return Resources(None if share is None else float(share), gpus_t, mem, growth)


def _search(v: _Validator, t: dict[str, Any]) -> SearchConfig:
    strategy = v.typed(t.get("strategy", "manual"), "search.strategy", str)
    seed = v.number(t.get("seed", 0), "search.seed", minimum=0, integer=True)
    warm = t.get("warm_start", [])
    if not isinstance(warm, list) or not all(isinstance(r, str) and r.strip() for r in warm):
        raise v.fail("search.warm_start", "expected a list of run names, e.g. "
                                          "[\"quickstart-20260101-120000\"]")
    options = {k: val for k, val in t.items() if k not in ("strategy", "seed", "warm_start")}
    return SearchConfig(strategy, seed, options, tuple(warm))


def _notify(v: _Validator, t: dict[str, Any], enabled: bool) -> NotifyConfig:
    v.keys(t, "notify", {"on", "command", "timeout", "burst", "window", "stall_after",
                         "gpu_idle_after", "bell", "osc"})
    on = t.get("on", list(NOTIFY_DEFAULT_ON))
    if not isinstance(on, list) or not all(isinstance(k, str) for k in on):
        raise v.fail("notify.on", "expected a list of event kinds")
    for kind in on:
        if kind not in NOTIFY_KINDS:
            raise v.fail("notify.on", f"unknown event kind {kind!r}; expected some of "
                                      f"{', '.join(NOTIFY_KINDS)}")
    command = t.get("command", [])
    if not isinstance(command, list) or not all(isinstance(a, str) for a in command) or (
            command and not command[0]):
        raise v.fail("notify.command", "expected an argv: a list of strings, e.g. "
                                       "[\"/usr/local/bin/notify-me\", \"--quiet\"] "
                                       "(never a shell)")
    never = ("off", "never")

    def watch(key: str, default: float) -> float | None:
        val = t.get(key, default)
        return None if isinstance(val, str) and val.strip().lower() in never else (
            v.duration(val, f"notify.{key}"))

    return NotifyConfig(
        on=tuple(on), command=tuple(command),
        timeout=v.duration(t.get("timeout", 10.0), "notify.timeout") or 10.0,
        burst=v.number(t.get("burst", 3), "notify.burst", minimum=1, integer=True),
        window=v.duration(t.get("window", 60.0), "notify.window") or 60.0,
        stall_after=watch("stall_after", 600.0), gpu_idle_after=watch("gpu_idle_after", 300.0),
        bell=v.typed(t.get("bell", False), "notify.bell", bool),
        osc=v.typed(t.get("osc", False), "notify.osc", bool), enabled=enabled)


def notify_command_problem(spec: Spec) -> str | None:
    """Why the notify command cannot run (checked by `tuitune run`, not when a supervisor
    reloads the spec: a command that vanishes later is a failed notification, not a
    run that cannot start)."""
    import os
    import shutil

    if not spec.notify.command:
        return None
    program = spec.notify.command[0]
    path = os.path.join(spec.workdir, program)  # relative: from the spec's workdir, as run
    found = shutil.which(program) if os.sep not in program else (
        path if os.path.isfile(path) and os.access(path, os.X_OK) else None)
    if found is None:
        return (f"{spec.path}: notify.command: {program!r} is not an executable program "
                f"(not found{' on PATH' if os.sep not in program else ''})")
    return None


def _stopping(v: _Validator, t: dict[str, Any]) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    names = t.get("rules", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise v.fail("stopping.rules", "expected a list of rule names")
    rules = [(n, dict(t.get(n, {}))) for n in names]
    for name, options in t.items():
        if name == "rules":
            continue
        if not isinstance(options, dict):
            raise v.fail(f"stopping.{name}", "expected a table of options for this rule")
        if name not in names:
            rules.append((name, dict(options)))
    return tuple(rules)


def _check_strategies(v: _Validator, spec: Spec) -> None:
    """Let the search and stopping registries vet names and options."""
    from tuitune.core.strategies import check_search, check_stopping

    try:
        check_search(spec.search.strategy, spec.space, spec.search.options,
                     spec.all_objectives)
    except ValueError as exc:
        raise v.fail("search", str(exc)) from None
    for name, options in spec.stopping:
        try:
            check_stopping(name, options, spec.space, spec.budget.max_steps)
        except ValueError as exc:
            raise v.fail(f"stopping.{name}", str(exc)) from None
