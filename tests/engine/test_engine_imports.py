"""The core imports without Textual, TensorFlow or Ray; the in-trial API imports
nothing heavy (it is loaded by every training script)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["textual", "tensorflow", "keras", "ray", "torch"]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_cli_search_and_system_import_without_ui_or_frameworks():
    loaded = _loaded_after(
        "import tuitune.engine.supervisor, tuitune.client.cli, tuitune.client.cli_commands, tuitune.search, "
        "tuitune.stopping, tuitune.system, tuitune.client.run_client, tuitune.core.spec")
    assert "tuitune.engine.supervisor" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_every_module_outside_the_ui_and_the_callback_imports_without_ui_or_frameworks():
    """All of them at once (the store, executors, insight, every engine module): the
    run-time twin of tests/test_import_contracts.py, which reads the source."""
    loaded = _loaded_after(
        "import importlib, pathlib, tuitune\n"
        "root = pathlib.Path(tuitune.__file__).parent.parent\n"
        "names = ['.'.join(p.relative_to(root).with_suffix('').parts).removesuffix('.__init__')\n"
        "         for p in sorted(root.joinpath('tuitune').rglob('*.py'))]\n"
        "names = [n for n in names if not n.startswith(('tuitune.ui', 'tuitune.in_trial.keras', 'tuitune.keras'))]\n"
        "assert len(names) > 60 and 'tuitune.store.run_store' in names, names\n"
        "for name in names: importlib.import_module(name)")
    assert {"tuitune.store", "tuitune.executors.local", "tuitune.insight.advice"} <= loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m.startswith("tuitune.ui")}


def test_in_trial_api_is_light():
    loaded = _loaded_after("import tuitune.trial")  # the public door, as scripts import it
    assert "tuitune.in_trial.trial" in loaded
    heavy = {m.split(".")[0] for m in loaded} & {*HEAVY, "numpy", "scipy", "psutil", "pynvml"}
    assert not heavy, heavy


def test_in_trial_api_does_nothing_outside_tuitune(tmp_path):
    code = ("import tuitune.trial as tt\n"
            "assert not tt.active() and tt.params() == {} and tt.trial_id() is None\n"
            "tt.report(1, loss=0.5)\n"
            "assert tt.should_stop() is False and tt.apply_tweaks(1) == {}\n"
            "assert tt.initial_checkpoint() is None and tt.initial_step() == 0\n"
            "print('ok')\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TUITUNE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []  # wrote nothing
