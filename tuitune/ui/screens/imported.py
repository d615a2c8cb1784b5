"""`I` on the run screen: the trials a warm start imported from earlier runs (not trials
of this run, so not in the table), and those it refused with the reason; the text of
`tuitune status RUN --imported`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ImportedScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,ctrl+c,q,I", "close", "Close", show=False, priority=True)]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Imported trials (warm start)", classes="dialog-title")
            with VerticalScroll():
                yield Static(self.text, id="imported", markup=False)
            yield Static("esc closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
