"""The terminal UI (Textual). Nothing outside this package imports Textual.

`run_tui(run_dir)` opens the app on one run; `run_monitor()` is `tuitune gpu`.
Both are imported lazily by the CLI so that the engine never loads Textual.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuitune.client.reference import Reference

__all__ = ["run_monitor", "run_tui"]


def run_tui(run_dir: Path, mouse: bool = True, ascii: bool | None = None,
            reference: Reference | None = None) -> None:
    """Open the TUI on a run; returns when the user detaches (trials keep running).
    `ascii`: draw with ASCII only; None: when the locale is not UTF-8. `reference`:
    another run's best trial, drawn dotted on the charts."""
    from tuitune.ui.factory import build_app
    from tuitune.ui.glyphs import needs_ascii

    build_app(Path(run_dir), ascii=needs_ascii() if ascii is None else ascii,
              reference=reference).run(mouse=mouse)


def run_monitor(mouse: bool = True, ascii: bool | None = None) -> None:
    """Full-screen GPU and host monitor, no experiment needed."""
    from tuitune.ui.factory import build_monitor
    from tuitune.ui.glyphs import needs_ascii

    build_monitor(ascii=needs_ascii() if ascii is None else ascii).run(mouse=mouse)
