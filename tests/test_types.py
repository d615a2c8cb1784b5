"""mypy (configured in pyproject.toml) is clean on the packages that are typed through:
the store, search, stopping rules and system sampling. Add a package to TYPED once
mypy is clean on it; engine/ and ui/ are not yet (issue 11, item 9)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TYPED = ["tuitune/search", "tuitune/stopping", "tuitune/store", "tuitune/system"]


@pytest.mark.slow
def test_mypy_is_clean_on_the_typed_packages(tmp_path):
    pytest.importorskip("mypy", reason="mypy is a test extra: pip install -e '.[test]'")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *TYPED],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
