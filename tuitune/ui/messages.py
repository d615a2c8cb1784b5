"""Past-tense messages that worker threads post to the app (post_message is thread-safe)."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tuitune.client.run_client import Reply
from tuitune.ui.records import RunDelta
from tuitune.ui.system_feed import SystemView


class StorePolled(Message):
    """The store poller read what changed."""

    def __init__(self, delta: RunDelta, seconds: float) -> None:
        super().__init__()
        self.delta = delta
        self.seconds = seconds


class StorePollFailed(Message):
    """A poll raised; the poller keeps trying."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class SystemSampled(Message):
    """The system poller took a sample."""

    def __init__(self, view: SystemView) -> None:
        super().__init__()
        self.view = view


class CommandAnswered(Message):
    """The supervisor answered a hand action (or it was refused before sending)."""

    def __init__(self, kind: str, args: dict[str, Any], reply: Reply) -> None:
        super().__init__()
        self.kind = kind
        self.args = args
        self.reply = reply


class ProcessEnded(Message):
    """The result of ending an orphan GPU process."""

    def __init__(self, pid: int, text: str) -> None:
        super().__init__()
        self.pid = pid
        self.text = text
