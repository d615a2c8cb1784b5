"""The loop that reads a remote run's nodes from the store and posts them to the app.

Started only for runs on a remote executor (only those publish nodes); it owns
its feed's store connection for the life of its thread, like the other loops.
"""

from __future__ import annotations

from textual.app import App
from textual.message import Message

from tuitune.ui.node_feed import NodeFeed, NodesView
from tuitune.ui.sync import Loop


class NodesRead(Message):
    """The nodes as the store has them now (ages measured now)."""

    def __init__(self, view: NodesView) -> None:
        super().__init__()
        self.view = view


def node_loop(app: App, feed: NodeFeed, interval: float) -> Loop:
    """Reads the nodes every `interval` seconds (ages move even when nothing changed)."""
    def step() -> None:
        try:
            view = feed.read()
        except Exception as exc:  # a locked or vanished store must not kill the loop
            app.log.error(f"reading the run's nodes failed: {exc}")
            view = feed.aged()  # the last nodes, growing old: they turn stale
        if view is not None:
            app.post_message(NodesRead(view))
    return Loop(app, "node-poller", interval, step, on_exit=feed.close)
