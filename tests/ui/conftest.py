"""Fixtures for the TUI tests; the helpers live in ui_helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_helpers import LiveRun, build_fixed_run, start_live_run


@pytest.fixture(scope="module")
def live_run(tmp_path_factory) -> Iterator[LiveRun]:
    """One supervised run shared by a module's tests (each starts its own trials)."""
    root = tmp_path_factory.mktemp("live")
    old = os.environ.get("TUITUNE_HOME")
    os.environ["TUITUNE_HOME"] = str(root)
    run = start_live_run(root)
    try:
        yield run
    finally:
        run.stop()
        if old is None:
            os.environ.pop("TUITUNE_HOME", None)
        else:
            os.environ["TUITUNE_HOME"] = old


@pytest.fixture
def fresh_live_run(tmp_path) -> Iterator[LiveRun]:
    """A supervised run of the test's own (for actions that end the experiment)."""
    run = start_live_run(tmp_path, "uitest-own")
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture
def fixed_run(tmp_path) -> Path:
    return build_fixed_run(tmp_path)
