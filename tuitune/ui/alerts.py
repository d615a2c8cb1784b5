"""The attached TUI's own way of telling you (`[notify] bell` and `osc`): a terminal
bell and a desktop notification escape sequence for the events `[notify] on` names.

OSC 9 (iTerm2, kitty, Windows Terminal, foot...) and OSC 777 (`notify;TITLE;BODY`:
urxvt, VTE terminals) are both sent: a terminal ignores the one it does not know. They
pass through SSH as any output, and through tmux with `allow-passthrough on`. The text
comes from event messages, so control characters are taken out first (an escape in a
trial's message must not end the sequence and reach the terminal as a command).
"""

from __future__ import annotations

from collections.abc import Sequence

from tuitune.core.spec import NotifyConfig
from tuitune.engine.notifier import notify_kind
from tuitune.store import EventRecord

MAX_TEXT = 200


def alert_text(config: NotifyConfig, events: Sequence[EventRecord]) -> str | None:
    """One line for the events of a poll that `[notify] on` names, or None."""
    chosen = [e for e in events if notify_kind(e) in config.on]
    if not chosen:
        return None
    text = chosen[-1].message if len(chosen) == 1 else (
        f"{len(chosen)} events, the last: {chosen[-1].message}")
    return "".join(c if c.isprintable() else " " for c in text)[:MAX_TEXT]


def sequences(config: NotifyConfig, text: str) -> str:
    """What to write to the terminal for one alert."""
    out = "\a" if config.bell else ""
    if config.osc:
        out += f"\x1b]9;tuitune: {text}\x07\x1b]777;notify;tuitune;{text}\x07"
    return out
