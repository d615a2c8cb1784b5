"""The background loops: one thread reads the store, one samples the machine.

Each loop owns its resources (the model's store connection, the system feed)
for the life of its thread, runs at a fixed rate, and only posts messages; it
never touches a widget. `wake()` makes the store loop poll now (after a
command, or when the user scrolls to rows whose sparklines are not loaded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from textual.app import App
from textual.worker import Worker, get_current_worker

from tuitune.system import ProcessIdentity
from tuitune.ui.messages import StorePolled, StorePollFailed, SystemSampled
from tuitune.ui.model import RunModel
from tuitune.ui.system_feed import SystemFeed


class Loop:
    """A fixed-rate loop in a thread worker, with a wake-up."""

    def __init__(self, app: App, name: str, interval: float, step: Callable[[], bool | None],
                 on_exit: Callable[[], None] | None = None) -> None:
        self.app = app
        self.name = name
        self.interval = interval
        self._step = step
        self._on_exit = on_exit
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.worker: Worker | None = None

    def start(self) -> None:
        self.worker = self.app.run_worker(self._run, name=self.name, group=self.name,
                                          thread=True, exclusive=True, exit_on_error=False)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.worker is not None:
            self.worker.cancel()

    def _run(self) -> None:
        worker = get_current_worker()
        try:
            while not worker.is_cancelled and not self._stop.is_set():
                again = self._step()  # True: more to read right away (opening a run)
                if not again:
                    self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            if self._on_exit is not None:
                self._on_exit()


def store_loop(app: App, model: RunModel, interval: float) -> Loop:
    """Polls the store; posts StorePolled (or StorePollFailed)."""
    def step() -> bool:
        started = time.perf_counter()
        try:
            delta = model.poll()
        except Exception as exc:  # a locked or vanished store must not kill the loop
            app.post_message(StorePollFailed(f"{type(exc).__name__}: {exc}"))
            return False
        app.post_message(StorePolled(delta, time.perf_counter() - started))
        return model.pending
    return Loop(app, "store-poller", interval, step, on_exit=model.close)


def system_loop(app: App, feed: SystemFeed, interval: float,
                roots: Callable[[], Mapping[int, ProcessIdentity]]) -> Loop:
    """Samples GPUs, host and trial processes; posts SystemSampled."""
    def step() -> None:
        try:
            view = feed.sample(roots())
        except Exception as exc:  # the sampler never raises by contract; be safe anyway
            app.log.error(f"system sample failed: {exc}")
            return
        app.post_message(SystemSampled(view))
    return Loop(app, "system-poller", interval, step, on_exit=feed.close)
