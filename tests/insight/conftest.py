"""The TUI tests' helpers, for the insight screen's tests."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ui is a folder of plain modules (ui_helpers), on sys.path when its own tests run.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
