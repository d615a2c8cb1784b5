"""A searched parameter the command never receives is warned about once at start:
a line on stderr and a `warning` event. `passed = "api"` says the script reads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import cli
from tests.support.specs import write_spec
from tests.support.store_reads import read
from tests.support.waiting import wait_for
from tuitune.core.spec import load_spec, unused_params

from .bad_input import run_cli

REPO = Path(__file__).resolve().parents[2]


def _lr_read_through_the_api(spec: Path) -> Path:
    text = spec.read_text().replace("default = 0.1\n", 'default = 0.1\npassed = "api"\n', 1)
    assert 'passed = "api"' in text
    spec.write_text(text)
    return spec


def test_a_parameter_the_command_never_gets_is_warned_about_once(tmp_path, tt_home):
    # The script reads lr through tuitune.trial.params() (marked), and never units.
    spec = _lr_read_through_the_api(write_spec(tmp_path / "exp", steps=5000, sleep=0.05))
    proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec),
                             "--headless"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    run_dir = wait_for(lambda: next((tt_home / "runs").iterdir()), what="the run")
    wait_for(lambda: read(run_dir, lambda s: s.meta().get("supervisor_pid")), what="supervisor")
    assert cli("stop", str(run_dir)).returncode == 0
    out, err = proc.communicate(timeout=60)
    assert err.splitlines() == [
        "tuitune: warning: units is searched but never passed to the command: add a {units} "
        "placeholder to `command`, or, if the script reads it with tuitune.trial.params(), "
        'mark it with passed = "api" in its [space.units] table']
    warnings = [e for e in read(run_dir, lambda s: s.events()) if e.kind == "warning"]
    assert [(e.actor, e.message) for e in warnings] == [("spec", err.strip()[9:])]


def test_placeholders_and_api_marks_count_as_passed(tmp_path):
    assert unused_params(load_spec(REPO / "sample_specs" / "quickstart.toml")) == []
    spec = _lr_read_through_the_api(write_spec(tmp_path / "exp"))
    assert unused_params(load_spec(spec)) == ["units"]  # fixed steps/sleep are not searched
    spec.write_text(spec.read_text().replace('command = ["{python}", "script.py"]',
                                             'command = ["{python}", "script.py", "{units}"]'))
    assert unused_params(load_spec(spec)) == []


def test_an_unknown_passed_value_is_refused_in_one_line(tmp_path, tt_home):
    spec = write_spec(tmp_path / "exp")
    spec.write_text(spec.read_text().replace("default = 0.1\n", 'default = 0.1\npassed = "env"\n'))
    code, _, stderr = run_cli(["run", str(spec), "--headless"])  # the CLI's code, here
    assert code == 2
    assert stderr == (f"tuitune: error: {spec}: space.lr.passed: expected one of api, "
                          "got 'env'\n")
    assert not (tt_home / "runs").exists() or not any((tt_home / "runs").iterdir())
