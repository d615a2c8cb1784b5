"""Notifications, the supervisor's part that tells a person what happened (`[notify]`).

It owns the watch (engine/watch.py: a new best, a stalled trial, a GPU idle under
running trials) and the notifier (engine/notifier.py: the notify command, its rate
limit); it reads the objective curves and the last GPU sample, and records what it sees
as events, which the notifier then tells.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tuitune.core.history import FINISHED_STATES, RUNNING
from tuitune.core.spec import Spec
from tuitune.engine.notifier import Notifier
from tuitune.engine.placement import GpuPlacement
from tuitune.engine.snapshot import ObjectiveCurves
from tuitune.engine.watch import Watch
from tuitune.store import RunStore

NOTIFY_INTERVAL = 0.5  # seconds between looks


class Notifications:
    def __init__(self, store: RunStore, spec: Spec, run_dir: Path, curves: ObjectiveCurves,
                 placement: GpuPlacement, clock: Callable[[], float] = time.time) -> None:
        self.store, self.spec, self.curves, self.placement = store, spec, curves, placement
        # [notify]: events worth telling (watch.py) and the command that tells them.
        self.notifier = Notifier(spec.notify, store, run_dir, spec.workdir, clock)
        self.watch = Watch(spec.notify, spec.objective)
        self._last_notify = 0.0

    @property
    def pids(self) -> set[int]:
        """Notify commands still running (ours to reap)."""
        return self.notifier.pids

    def start(self, last_event_id: int) -> None:
        """Events up to `last_event_id` were told before."""
        self.notifier.start_after(last_event_id)

    def baseline(self) -> None:
        """The best so far among finished trials (no 'new best' for what was known)."""
        self.watch.baseline((t.id, self._trial_value(t.id)) for t in self.store.trials(
            FINISHED_STATES))

    def _trial_value(self, trial_id: int) -> float | None:
        return self.spec.objective.best([v for _, v in self.curves.curves.get(trial_id, [])])

    def poll(self, now: float, force: bool = False) -> None:
        """Record what the watch sees (new best, stalled, GPU idle), then let the
        notifier tell the events chosen in `[notify] on`."""
        if not self.spec.notify.enabled or (now - self._last_notify < NOTIFY_INTERVAL
                                            and not force):
            return
        self._last_notify = now
        trials = self.store.trials()
        seen = self.watch.new_best((t.id, t.state, self._trial_value(t.id)) for t in trials)
        running = [t for t in trials if t.state == RUNNING]
        seen += self.watch.stalled([(t.id, t.started_at) for t in running],
                                   {t.id: len(self.curves.curves.get(t.id, ())) for t in running},
                                   now)
        scheduler = self.placement.scheduler
        snapshot = scheduler.snapshot if scheduler.has_gpus else None
        if snapshot is not None:
            busy: dict[int, list[int]] = {}
            for t in running:
                for g in (t.gpus or "").split(","):
                    if g.strip().isdigit():
                        busy.setdefault(int(g), []).append(t.id)
            seen += self.watch.gpu_idle(busy, {g.index: g.util_pct for g in snapshot.gpus},
                                        now)
        for s in seen:
            if s.kind in self.spec.notify.on:
                self.store.add_event(s.kind, "watch", s.message, trial_id=s.trial_id,
                                     data=s.data)
        self.notifier.poll(now)

    def finish(self, now: float) -> None:
        """The last look, and every notification still due sent."""
        self.poll(now, force=True)
        self.notifier.drain()
