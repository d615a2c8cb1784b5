"""Tick boxes that read without colour.

Textual draws an `X` in every checkbox and every SelectionList line and tells ticked
from unticked by colour alone: on a monochrome terminal everything reads as ticked.
Here the `X` shows only when ticked, and ASCII drawing gets `[X]` / `[ ]`.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.actions import SkipAction
from textual.binding import Binding
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets._toggle_button import ToggleButton
from textual.widgets.option_list import OptionDoesNotExist

from tuitune.ui import glyphs


class FormCheckbox(Checkbox, inherit_bindings=False):
    """Space toggles; Enter submits the form (a plain Checkbox toggles on Enter too).

    Reads without colour: `X` only when checked (Textual draws an `X` either way and
    tells them apart by colour alone), and `[X]` / `[ ]` where drawing is ASCII."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - Textual's name
        return "X" if self.value else " "

    @property
    def BUTTON_LEFT(self) -> str:  # type: ignore[override]  # noqa: N802
        return "[" if glyphs.active() else "▐"

    @property
    def BUTTON_RIGHT(self) -> str:  # type: ignore[override]  # noqa: N802
        return "]" if glyphs.active() else "▌"


class FormSelectionList(SelectionList[str]):
    """A SelectionList that reads without colour, as `FormCheckbox` does: Textual draws
    an `X` on every line and tells ticked from unticked by colour alone (every rule of
    the hand-off form read as ticked on a monochrome terminal). Space ticks; Enter
    submits the form, as its button says (a plain SelectionList ticks on Enter too)."""

    BINDINGS = [Binding("enter", "submit_form", show=False)]

    def action_submit_form(self) -> None:
        raise SkipAction()  # on to the form's own Enter

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        left, right = ToggleButton.BUTTON_LEFT, ToggleButton.BUTTON_RIGHT
        if len(segments) < 3 or (segments[0].text, segments[2].text) != (left, right):
            return strip  # not a line with a button (or Textual changed how it draws one)
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        ticked = option.value in self.selected
        ascii_drawing = glyphs.active()
        segments[0] = Segment("[" if ascii_drawing else left, segments[0].style)
        segments[1] = Segment("X" if ticked else " ", segments[1].style)
        segments[2] = Segment("]" if ascii_drawing else right, segments[2].style)
        return Strip(segments, strip.cell_length)
