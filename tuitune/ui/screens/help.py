"""The help screen: every key of the screen it was opened from, and the app's."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def key_table(screen: Screen) -> list[tuple[str, str]]:
    """(keys, description) for every binding reachable from `screen`, once each."""
    seen: dict[str, list[str]] = {}
    order: list[str] = []
    nodes = [screen, *screen.query("*"), screen.app]
    for node in nodes:
        for _key, binding in node._bindings:  # noqa: SLF001 - the merged bindings map
            if not binding.description:
                continue
            desc = binding.tooltip or binding.description
            if desc not in seen:
                seen[desc] = []
                order.append(desc)
            shown = screen.app.get_key_display(binding)
            if shown not in seen[desc]:
                seen[desc].append(shown)
    # Textual's own keys (focus, copy) after ours.
    ours = [d for d in order if d not in _TEXTUAL_KEYS]
    return [(" ".join(seen[d]), d) for d in ours + [d for d in order if d in _TEXTUAL_KEYS]]


_TEXTUAL_KEYS = {"Focus Next", "Focus Previous", "Copy selected text", "Quit",
                 "Show keys and help panel", "Palette"}


class HelpScreen(ModalScreen[None]):
    """Lists keys; any of q, ?, F1 or Escape closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", show=False),
    ]

    def __init__(self, for_screen: Screen, intro: str) -> None:
        super().__init__()
        self.rows = key_table(for_screen)
        self.intro = intro

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.rows), default=4) + 2
        text = "\n".join(f"{k.ljust(width)}{d}" for k, d in self.rows)
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            yield Static(self.intro, classes="dialog-hint", markup=False)
            with VerticalScroll():
                yield Static(text, id="keys", markup=False)  # keys such as [ are text
            yield Static("q, ? or F1 closes · ctrl+p lists every action by name",
                         classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
