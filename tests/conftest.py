"""Shared fixtures: an isolated TUITUNE_HOME and cleanup of stray trial processes; a
pinned time zone. Shared helpers are in `tests/support/`."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from tests.support.stray import processes_mentioning


@pytest.fixture
def tt_home(tmp_path, monkeypatch):
    """Runs created by the test live under tmp_path; processes they leave are killed."""
    home = tmp_path / "home"
    monkeypatch.setenv("TUITUNE_HOME", str(home))
    yield home
    _kill_processes_mentioning(str(home))


@pytest.fixture
def utc(monkeypatch):
    """Event times print in local time: pin the zone so snapshots match anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _kill_processes_mentioning(marker: str) -> None:
    """Safety net: end any process whose command line or environment names the test home."""
    for proc in processes_mentioning(marker):
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
