"""Generated bad input for tuitune (hypothesis strategies) and the one property every
input must have, shared by tests/engine/test_bad_input.py (a few examples) and
benchmarks/bench_bad_input.py (tens of thousands).

The property: either one line `tuitune: error: FILE: KEY: ...` (or naming the argument),
a non-zero exit status and nothing created, or a run that could start (its store is
written and its first trial's argv and environment can be executed).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tuitune.client.cli import main
from tuitune.engine.launch import build_launch
from tuitune.engine.runs import create_run
from tuitune.core.spec import SpecError, load_spec
from tuitune.store import RunStore

# -- a valid spec ---------------------------------------------------------------------------
_ONE_TRIAL = """
name = "NAME"
command = COMMAND
[search]
strategy = "random"
[budget]
max_trials = 1
[space.lr]
type = "float"
low = 0.001
high = 0.1
[objective]
metric = "loss"
"""


def one_trial_spec(name: str = "x",
                   command: str = '["{python}", "train.py", "--lr", "{lr}"]') -> str:
    """A valid spec of one quick trial: a test that wrongly gets a run started from it
    fails at once (the run ends) instead of waiting for trials given by hand."""
    return _ONE_TRIAL.replace("NAME", name, 1).replace("COMMAND", command, 1)


# -- TOML values -------------------------------------------------------------------------
_ODD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "\x1b]52;c;aGk=\x07", "\n", "{lr}", "{nope}", "{python}", "{",
     "}", "{}", "{{lr}}", "=", "A=B", "..", "/", "../x", " ", "\u202e", "\t", "lr", "x" * 300])
_ODD_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, 0, -0.0, -1, 1, 0.5, 1e308,
                                -1e308, 5e-324, 2**63, 2**63 - 1, -2**63 - 1, 2**70,
                                1180591620717411303424, 10**400, True, False])
_DATES = st.sampled_from([datetime.datetime(1979, 5, 27, 7, 32, tzinfo=datetime.timezone.utc),
                          datetime.datetime(1979, 5, 27, 7, 32), datetime.date(1979, 5, 27),
                          datetime.time(7, 32)])
_SCALARS = (st.integers() | st.floats() | st.booleans() | _ODD_TEXT | _ODD_NUMBERS | _DATES)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_ODD_TEXT, inner, max_size=3), max_leaves=6)


def toml_value(value: Any) -> str:
    """A TOML literal for `value` (inline tables and arrays; strings escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


# -- specs ---------------------------------------------------------------------------------
def base_spec() -> dict[str, Any]:
    """A valid spec (as a dict) that the generated edits damage."""
    return {
        "name": "gen",
        "command": ["{python}", "train.py", "--lr", "{lr}", "--opt", "{opt}"],
        "kill_grace": 1,
        "env": {"A": "1"},
        "space": {
            "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
            "units": {"type": "int", "low": 1, "high": 8},
            "bs": {"type": "pow2", "low": 8, "high": 64},
            "beta": {"type": "momentum", "low": 0.9, "high": 0.999},
            "opt": {"type": "categorical", "choices": ["adam", "sgd"]},
            "steps": {"type": "fixed", "value": 3},
        },
        "objective": {"metric": "loss", "mode": "min"},
        "budget": {"max_trials": 2, "max_concurrent": 1, "trial_timeout": "1h"},
        "resources": {"gpus_per_trial": 0.5},
        "search": {"strategy": "random", "seed": 1},
    }


#: Where edits land: the paths of base_spec's values, and a few new keys.
_EDIT_PATHS = [
    ("name",), ("command",), ("command", 0), ("command", 3), ("kill_grace",), ("env",),
    ("env", "A"), ("env", "A=B"), ("env", ""), ("env", "\x00"), ("workdir",),
    ("space", "lr", "low"), ("space", "lr", "high"), ("space", "lr", "log"),
    ("space", "lr", "default"), ("space", "units", "low"), ("space", "units", "high"),
    ("space", "bs", "high"), ("space", "beta", "low"), ("space", "beta", "high"),
    ("space", "opt", "choices"), ("space", "opt", "choices", 0), ("space", "steps", "value"),
    ("space", "odd"), ("space", "python"), ("space", "1x"), ("space", "a b"),
    ("space", "lr", "type"), ("space", "lr", "mutable"), ("objective", "metric"),
    ("objective", "mode"), ("objective", "secondary"), ("budget", "max_trials"),
    ("budget", "max_concurrent"), ("budget", "trial_timeout"), ("budget", "max_steps"),
    ("budget", "experiment_timeout"), ("resources", "gpus_per_trial"), ("resources", "gpus"),
    ("resources", "gpu_memory_mb"), ("search", "seed"), ("search", "strategy"),
    ("search", "n_initial"), ("stopping",), ("stopping", "rules"), ("metrics", "source"),
    ("executor",), ("executor", "kind"),
    ("space", "units", "when"), ("space", "beta", "when"), ("space", "lr", "when"),
    ("space", "units", "when", "opt"), ("command", 4),
]


def _apply(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = spec
    for step in path[:-1]:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.setdefault(step, {})
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return
        if not isinstance(node, (dict, list)):
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """A spec's text: the base with one to three values replaced by odd ones, or (now and
    then) raw bytes-like text that is not TOML at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.text(max_size=40))
    spec = base_spec()
    for _ in range(draw(st.integers(1, 3))):
        _apply(spec, draw(st.sampled_from(_EDIT_PATHS)), draw(_VALUES))
    return "\n".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in spec.items()) + "\n"


# -- the property ----------------------------------------------------------------------
@dataclass
class Outcome:
    """What one input did: "refused" or "accepted"; `problem` is set if the property broke."""

    kind: str
    problem: str | None = None


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`tuitune ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _one_line_error(err: str) -> str | None:
    lines = err.splitlines()
    if len(lines) != 1 or not err.endswith("\n"):
        return f"expected one line on stderr, got {err!r}"
    if "internal error" in err or "Traceback" in err:
        return f"unexpected failure: {err!r}"
    return None


def check_spec_file(path: Path, home: Path) -> Outcome:
    """Refused in one line naming the file, or a run that can start."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        code, out, err = run_cli(["run", str(path), "--headless"])
        problem = _one_line_error(err)
        if problem is None and not err.startswith(f"tuitune: error: {path}: "):
            problem = f"the error does not name the file first: {err!r}"
        if problem is None and err != f"tuitune: error: {exc}\n":
            problem = f"CLI and load_spec disagree: {err!r} vs {exc}"
        if problem is None and code != 2:
            problem = f"exit status {code}, expected 2"
        if problem is None and (home / "runs").exists() and any((home / "runs").iterdir()):
            problem = "a refused spec created a run folder"
        return Outcome("refused", problem)
    except Exception as exc:  # noqa: BLE001 - the property under test
        return Outcome("refused", f"load_spec raised {type(exc).__name__}: {exc}")
    try:
        _check_can_start(spec, home)
    except Exception as exc:  # noqa: BLE001 - the property under test
        return Outcome("accepted", f"accepted, but cannot start: {type(exc).__name__}: {exc}")
    return Outcome("accepted")


def _check_can_start(spec: Any, home: Path) -> None:
    """What a supervisor does before exec: a run folder and store, a trial with JSON
    params, and argv/environment that execve takes (no NUL, names without '=')."""
    json.dumps(spec.raw, allow_nan=False)  # finite numbers, no dates: all of it storable
    run_dir = create_run(spec, home / "runs")
    store = RunStore(run_dir)
    try:
        for params in (spec.space.defaults(), spec.space.sample(np.random.default_rng(0))):
            spec.space.validate(params)
            json.dumps(params, allow_nan=False)
            trial_id = store.create_trial(params, origin="manual", actor="test")
            launch = build_launch(spec, run_dir, trial_id, params, gpus=None)
            for arg in launch.argv:
                if "\x00" in arg:
                    raise ValueError(f"NUL in argv: {arg!r}")
            for name, value in launch.env.items():
                if not name or "=" in name or "\x00" in name + value:
                    raise ValueError(f"environment entry execve refuses: {name!r}")
    finally:
        store.close()


# -- CLI arguments ---------------------------------------------------------------------
_COMMANDS = ["status", "best", "kill", "pause", "unpause", "clone", "tweak", "new", "note",
             "star", "protect", "handoff", "requeue", "stop", "export", "logs", "events", "ls"]
_ARGS = (_ODD_TEXT | st.sampled_from(["1", "0", "-1", "2", "1180591620717411303424",
                                      "99999999999999999999", "--set", "lr=0.01", "lr=nan",
                                      "lr=inf", "opt=\x00", "units=1e400", "--off", "-o",
                                      "/tmp", "--format", "json", "--lost", "--option",
                                      "n=nan", "bayes", "-n", "--raw", "--trial"]))


@st.composite
def cli_argvs(draw: st.DrawFn, runs: list[str]) -> list[str]:
    """`COMMAND RUN ARGS...` where RUN is a real (good, broken) run, a prefix or junk."""
    command = draw(st.sampled_from(_COMMANDS))
    run = draw(st.sampled_from(runs) | _ODD_TEXT)
    return [command, run, *draw(st.lists(_ARGS, max_size=4))]


def check_cli(argv: list[str]) -> Outcome:
    """Any outcome but a traceback (an internal error) or a multi-line refusal."""
    try:
        code, out, err = run_cli(argv)
    except Exception as exc:  # noqa: BLE001 - the property under test
        return Outcome("refused", f"main raised {type(exc).__name__}: {exc}")
    if code == 0:
        return Outcome("accepted", "internal error" in err and f"stderr: {err!r}" or None)
    return Outcome("refused", _one_line_error(err))
