"""Lines the supervisor records once: why a slot stays empty, said when it first is."""

from __future__ import annotations

from tuitune.store import RunStore


class Notices:
    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._said: set[str] = set()

    def say_once(self, key: str, line: str) -> None:
        """A `waiting` event, the first time `key` comes up."""
        if key not in self._said:
            self._said.add(key)
            self.store.add_event("waiting", "engine", line)
