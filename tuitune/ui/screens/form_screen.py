"""The shared shape of a modal form: Enter or OK submits, Cancel or Escape closes.

Each form says what submitting means (`action_submit`); the wiring of Enter in an
input and of the two buttons is the same everywhere, so it lives here once.
"""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen
from textual.widgets import Button, Input

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT]):
    """A modal form with an `ok` button; any other button cancels."""

    def action_submit(self) -> None:  # pragma: no cover - each form defines it
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)
