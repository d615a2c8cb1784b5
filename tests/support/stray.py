"""Find the processes a test's runs started, by the test home they carry."""

from __future__ import annotations

import os

import psutil


def processes_mentioning(marker: str) -> list[psutil.Process]:
    """Live processes (not this one, not zombies) whose command line or environment
    (TUITUNE_RUN_DIR, TUITUNE_HOME) names `marker`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            env = proc.environ()
            hit = marker in " ".join(proc.info["cmdline"] or []) \
                or marker in env.get("TUITUNE_RUN_DIR", "") \
                or marker in env.get("TUITUNE_HOME", "")
            if hit and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
