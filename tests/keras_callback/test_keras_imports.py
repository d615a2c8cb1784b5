"""The in-trial API stays light: importing it pulls in no framework and no UI, and
the core never imports the Keras integration."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tuitune"
HEAVY = ("tensorflow", "keras", "textual", "torch", "jax", "tuitune.in_trial.keras")


def test_importing_the_trial_api_imports_nothing_heavy():
    code = ("import sys, json, tuitune.in_trial.trial, tuitune.in_trial.sink; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY]
    assert not bad, f"import tuitune.in_trial.trial loaded {bad}"


def test_no_core_module_imports_the_keras_integration():
    pattern = re.compile(
        r"^\s*(from\s+tuitune(\.keras\b|\s+import\s+keras\b)|import\s+tuitune\.keras)",
        re.MULTILINE)
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "keras.py" and pattern.search(p.read_text())]
    assert not offenders
