"""On a machine without TensorFlow, Keras or Ray the suite still collects, and what
needs them is skipped with a reason that says what to install. Checked by collecting
the whole suite in a subprocess where those imports fail (tests/support/blocked_imports.py;
the same command runs in CI as it is written here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "-p", "tests.support.blocked_imports",
           "--collect-only", "-q", "-rs", "-p", "no:cacheprovider", "tests"]


@pytest.mark.slow  # collects the whole suite: about a minute on a loaded 2-core machine
def test_the_suite_collects_and_skips_with_reasons_without_tensorflow_or_ray():
    out = subprocess.run(COMMAND, cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "error" not in text.splitlines()[-1].lower(), text[-3000:]
    skipped = [line for line in text.splitlines() if line.startswith("SKIPPED")]
    for module, words in [("tests/keras_callback/test_keras_callback.py", "tuitune[keras]"),
                          ("tests/keras_callback/test_keras_engine.py", "tuitune[keras]"),
                          ("tests/ray_cluster/test_ray_executor.py", "tuitune[ray]")]:
        assert any(module in line and words in line for line in skipped), (module, skipped)


def test_the_blocker_makes_the_packages_unimportable():
    code = ("import tests.support.blocked_imports\n"
            "for name in ('tensorflow', 'keras', 'ray', 'ray.util'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "    except ModuleNotFoundError:\n"
            "        print('blocked', name)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.split("\n")[:4] == ["blocked tensorflow", "blocked keras", "blocked ray",
                                          "blocked ray.util"], out.stdout + out.stderr
