"""The terminal UI (Textual). Nothing outside this package imports Textual.

`run_tui(run_dir)` opens the app on one run; `run_monitor()` is `tuitune gpu`.
Both are imported lazily by the CLI so that the engine never loads Textual.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_monitor", "run_tui"]


def run_tui(run_dir: Path, mouse: bool = True) -> None:
    """Open the TUI on a run; returns when the user detaches (trials keep running)."""
    from tuitune.ui.factory import build_app

    build_app(Path(run_dir)).run(mouse=mouse)


def run_monitor(mouse: bool = True) -> None:
    """Full-screen GPU and host monitor, no experiment needed."""
    from tuitune.ui.factory import build_monitor

    build_monitor().run(mouse=mouse)
