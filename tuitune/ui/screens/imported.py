"""`I` on the run screen: the trials a warm start imported from earlier runs, and those
it refused with the reason (the text of `tuitune status RUN --imported`); `t` shows the
imported in the trial table (ids -1, -2...; again: hides them)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ImportedScreen(ModalScreen[bool]):
    """Dismissed with True when `t` asks to show (or hide) them in the table."""

    BINDINGS = [Binding("escape,ctrl+c,q,I", "close", "Close", show=False, priority=True),
                Binding("t", "table", "In the table", show=False)]

    def __init__(self, text: str, shown: bool = False, any_imported: bool = True) -> None:
        super().__init__()
        self.text, self.shown, self.any_imported = text, shown, any_imported

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Imported trials (warm start)", classes="dialog-title")
            with VerticalScroll():
                yield Static(self.text, id="imported", markup=False)
            hint = ("t hides them from the trial table" if self.shown else
                    "t shows them in the trial table (ids -1, -2...)")
            yield Static(f"{hint}   esc closes" if self.any_imported else "esc closes",
                         classes="dialog-hint")

    def action_table(self) -> None:
        if self.any_imported:
            self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
