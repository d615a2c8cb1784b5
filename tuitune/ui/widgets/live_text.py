"""A line of a dialog whose numbers follow the run (issue 14, item 4: the kill dialog
said step 22 while the row behind it said 23).

The text is a function, read again with every poll of the store (the app's frame,
context.Frame), so a dialog left open says what the screen behind it says.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from tuitune.ui.context import Frame, watch_frames

#: What a live line shows: a fixed text, or a function read at every poll.
Text = str | Callable[[], str]


def read(text: Text) -> str:
    return text() if callable(text) else text


class LiveText(Static):
    """Static text, or a function's text redrawn with every poll of the store."""

    def __init__(self, text: Text, *, classes: str | None = None, id: str | None = None) -> None:
        super().__init__(read(text), classes=classes, id=id, markup=False)
        self._text = text

    def on_mount(self) -> None:
        if callable(self._text):
            watch_frames(self, self._polled)

    def _polled(self, frame: Frame) -> None:
        if frame.polled:
            self.update(read(self._text))
