"""Bad specs: one clear line naming file and key path, exit status 2, nothing started."""

from __future__ import annotations

import pytest

from tests.support.processes import cli
from tuitune.core.spec import SpecError, load_spec

from .bad_input import run_cli

GOOD = """
name = "x"
command = ["{python}", "train.py", "--lr", "{lr}"]
[space.lr]
type = "float"
low = 0.001
high = 0.1
log = true
[objective]
metric = "loss"
"""


def _write(tmp_path, text):
    (tmp_path / "train.py").write_text("print('hi')\n")
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_good_spec_loads(tmp_path):
    spec = load_spec(_write(tmp_path, GOOD))
    assert spec.space["lr"].log and spec.objective.metric == "loss"
    assert spec.budget.max_concurrent == 1 and spec.search.strategy == "manual"


@pytest.mark.parametrize("edit, key, message", [
    (lambda s: "colour = 'red'\n" + s, "colour", "unknown key"),
    (lambda s: s.replace('low = 0.001', 'low = "small"'), "space.lr.low", "expected a number"),
    (lambda s: s.replace('low = 0.001', 'low = 0.5'), "space.lr.low", "must be below high"),
    (lambda s: s.replace('low = 0.001', 'low = 0.0'), "space.lr.low", "log scale needs low > 0"),
    (lambda s: s.replace('type = "float"', 'type = "floaty"'), "space.lr.type", "expected one of"),
    (lambda s: s.replace('log = true', 'log = true\nmutabel = true'), "space.lr.mutabel",
     "unknown key"),
    (lambda s: s.replace('"{lr}"', '"{learning_rate}"'), "command[3]",
     "placeholder {learning_rate} names no parameter"),
    (lambda s: s.replace('command = ["{python}", "train.py", "--lr", "{lr}"]',
                         'command = "python train.py"'), "command", "not a shell string"),
    (lambda s: s.replace('"{python}"', '"no-such-program-xyz"'), "command[0]", "not found"),
    (lambda s: s.split("[space.lr]")[0] + "[space]\n[objective]\nmetric='loss'\n", "space",
     "empty"),
    (lambda s: s.replace('metric = "loss"', 'metric = "loss"\nmode = "maximise"'),
     "objective.mode", "expected one of min, max"),
    (lambda s: s + "[budget]\nmax_trials = 0\n", "budget.max_trials", "at least 1"),
    (lambda s: s + "[budget]\ntrial_timeout = 'soon'\n", "budget.trial_timeout", "duration"),
    (lambda s: 'workdir = "nowhere"\n' + s, "workdir", "does not exist"),
    (lambda s: s + "[search]\nstrategy = 'annealing'\n", "search", "unknown strategy"),
    (lambda s: s + "[stopping]\nrules = ['psychic']\n", "stopping.psychic", ""),
    (lambda s: s.replace('log = true', 'log = true\nrole = "lerning_rate"'), "space.lr.role",
     "expected one of learning_rate, momentum"),
    (lambda s: s.replace('log = true', 'log = true\nrole = 1'), "space.lr.role",
     "expected one of"),
])
def test_bad_spec_names_file_and_key(tmp_path, edit, key, message):
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    text = str(info.value)
    assert text.startswith(f"{path}: {key}: "), text
    assert message in text
    assert "\n" not in text


def test_a_role_is_declared_or_read_from_the_name(tmp_path):
    text = GOOD.replace('"{lr}"]', '"{lr}", "{eta}", "{momentum}"]') + """
[space.eta]
type = "float"
low = 0.001
high = 0.1
[space.momentum]
type = "momentum"
low = 0.9
high = 0.99
role = "other"
"""
    space = load_spec(_write(tmp_path, text)).space
    assert space["lr"].role == "learning_rate"  # by name
    assert space["eta"].role == "learning_rate"  # by name too (an old convention)
    assert space["momentum"].role == "other"  # declared: the name is overridden


def test_invalid_toml_is_one_line(tmp_path):
    path = _write(tmp_path, "name = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(path)


def test_cli_bad_spec_exits_2_and_starts_nothing(tmp_path, tt_home):
    path = _write(tmp_path, GOOD.replace("low = 0.001", "low = 0.5"))
    out = cli("run", str(path), "--headless")
    assert out.returncode == 2
    assert out.stderr.strip() == (f"tuitune: error: {path}: space.lr.low: must be below high "
                                  "(0.5 >= 0.1)")
    assert not (tt_home / "runs").exists() or not any((tt_home / "runs").iterdir())


def test_cli_missing_spec_file(tmp_path, tt_home):
    code, _, stderr = run_cli(["run", str(tmp_path / "nope.toml"), "--headless"])
    assert code == 2 and "no such file" in stderr


CONDITIONAL = """
name = "x"
command = ["{python}", "train.py", "--layers", "{layers}", ["--units-2", "{units_2}"],
           ["--momentum={momentum}"], "--opt", "{opt}"]
[space.layers]
type = "int"
low = 1
high = 3
[space.units_2]
type = "int"
low = 8
high = 64
when = "layers >= 2"
[space.opt]
type = "categorical"
choices = ["sgd", "adam"]
[space.momentum]
type = "momentum"
low = 0.5
high = 0.99
when = { opt = "sgd" }
[objective]
metric = "loss"
"""


def test_conditional_arguments_are_left_out_as_a_group(tmp_path):
    """Issue 17.1: an argv group naming an inactive parameter is dropped whole; the
    trial's TUITUNE_PARAMS has only the active parameters; no shell is involved."""
    from tuitune.engine.launch import build_launch

    spec = load_spec(_write(tmp_path, CONDITIONAL))
    assert str(spec.space["units_2"].when) == "layers >= 2"
    assert str(spec.space["momentum"].when) == 'opt == "sgd"'
    params = spec.space.complete({"layers": 1, "opt": "adam"})
    assert params == {"layers": 1, "opt": "adam"}
    req = build_launch(spec, tmp_path, 1, params, None)
    assert req.argv[1:] == ("train.py", "--layers", "1", "--opt", "adam")
    assert "units_2" not in req.env["TUITUNE_PARAMS"]
    params = spec.space.complete({"layers": 2, "opt": "sgd", "units_2": 16,
                                  "momentum": 0.9})
    req = build_launch(spec, tmp_path, 2, params, None)
    assert req.argv[1:] == ("train.py", "--layers", "2", "--units-2", "16",
                            "--momentum=0.9", "--opt", "sgd")
