"""Keys from the terminal are handled one at a time, each to its end, in arrival order.

Why: Textual hands a key to the widget focused *when the app reads it*, and a
key's effect (a Tab moving focus, `n` opening a form, Enter closing one) happens
only once the key has travelled through that widget's queue and bubbled back up.
A burst of keys, which is what a laggy SSH link delivers, is therefore all sent
to the widget that was focused before the burst: `0.07 Tab 9 Tab 64` became
lr=0.07964, and keys typed right after `n` went to the table, not the new form.

Here the app holds each key until the previous one has settled: its target and
every ancestor up to the app have processed what it caused (a few rounds, so a
message it posted, such as Input.Submitted, is handled too), and a screen it
opened or closed has been mounted or resumed (its focus set). Then the next key
is dispatched exactly as Textual would have. A watchdog releases the gate if a
widget vanishes mid-way, so keys can be late but never stuck.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump

#: Most rounds of "every queue on the path has drained" per key.
MAX_ROUNDS = 4
#: A key that has not settled by then releases the next one anyway.
WATCHDOG_S = 1.0


class KeysInOrder(App[Any]):
    """App base: a key from the terminal is dispatched only when the previous one
    has settled (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key] = deque()
        self._keys_taken = 0
        self._key_token: int | None = None  # the key being settled, if any
        self._key_watchdog: asyncio.TimerHandle | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._key_token is not None:
                self._held_keys.append(event)
            else:
                await self._take_key(event)
            return
        await super().on_event(event)

    async def _take_key(self, event: events.Key) -> None:
        self._keys_taken += 1
        token = self._key_token = self._keys_taken
        try:
            screen = self.screen
        except Exception:  # no screen yet (starting) or any more (closing): no order to keep
            screen = None
        await super().on_event(event)
        if screen is None:
            await self._release(token)
            return
        loop = asyncio.get_running_loop()
        self._key_watchdog = loop.call_later(WATCHDOG_S, self._watchdog, token)
        self._settle_round(token, screen, 1)

    # -- settling -----------------------------------------------------------------------------
    def _path(self) -> list[MessagePump]:
        """The focused widget (or the screen) and its ancestors up to the app."""
        try:
            node = self.focused or self.screen
        except Exception:
            return [self]
        return list(node.ancestors_with_self)

    def _settle_round(self, token: int, screen: Any, rounds: int) -> None:
        path = self._path()
        if path[-1] is not self:
            path.append(self)

        async def done(busy: bool) -> None:
            if token != self._key_token:
                return
            try:
                moved = self.screen is not screen
                now = self.screen
            except Exception:
                moved, now = False, screen
            if (busy or moved) and rounds < MAX_ROUNDS:
                self._settle_round(token, now, rounds + 1)
            else:
                await self._release(token)

        self._walk(path, token, done, False)

    def _walk(self, nodes: list[MessagePump], token: int, done: Any, busy: bool) -> None:
        """Queue a callback behind whatever `nodes[0]` has queued, then the next node's."""
        if token != self._key_token:
            return
        if not nodes:
            self.call_later(done, busy)
            return
        node, rest = nodes[0], nodes[1:]

        def reached() -> None:
            self._walk(rest, token, done, busy or node.message_queue_size > 0)

        if not node.call_later(reached):  # closed or closing: nothing more will happen there
            self._walk(rest, token, done, busy)

    async def _release(self, token: int) -> None:
        if token != self._key_token:
            return
        if self._key_watchdog is not None:
            self._key_watchdog.cancel()
            self._key_watchdog = None
        self._key_token = None
        if self._held_keys:
            await self._take_key(self._held_keys.popleft())

    def _watchdog(self, token: int) -> None:
        if token == self._key_token:
            self.call_later(self._release, token)
