"""Ending the headless runs the insight tests start."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.helpers import cli


def stop_headless(proc: subprocess.Popen[str], run_dir: Path) -> None:
    cli("stop", str(run_dir))
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
