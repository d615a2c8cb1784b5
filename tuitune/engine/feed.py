"""What trials say besides their API reports: metric lines in their output, and
acknowledgements of tweaks. The supervisor reads both through a TrialFeed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tuitune.engine.logs import LogTailer
from tuitune.engine.runs import trial_dir
from tuitune.history import LIVE_STATES
from tuitune.store import RunStore

ACK_CLOCK_SKEW = 5.0  # seconds: trials stamp acks with their own clock


class TrialFeed:
    """Follows running trials' logs (per the spec's `[metrics] source`) and turns
    tweak acknowledgements into events."""

    def __init__(self, store: RunStore, run_dir: Path, source: str,
                 clock: Callable[[], float]) -> None:
        self.store, self.run_dir, self.source, self.clock = store, run_dir, source, clock
        self._tailers: dict[int, LogTailer] = {}
        self._acked: set[int] = set()
        self._acks_checked = 0.0

    def attach(self, trial_id: int, resume: bool = False) -> None:
        """Start following a trial's log; after a restart, skip what is stored already."""
        skip: dict[str, int] = {}
        if resume:
            for p in self.store.metrics(trial_id=trial_id):
                skip[p.name] = max(skip.get(p.name, p.step), p.step)
        self._tailers[trial_id] = LogTailer(trial_dir(self.run_dir, trial_id) / "log.txt", skip)

    def detach(self, trial_id: int) -> None:
        self._tailers.pop(trial_id, None)

    def read(self) -> None:
        """Store metric points parsed from new output lines."""
        if self.source == "api" or not self._tailers:
            return
        api_seen = {t.id for t in self.store.trials(LIVE_STATES) if t.api_seen}
        for tid, tailer in self._tailers.items():
            if self.source == "auto" and tid in api_seen:
                tailer.discard()  # the script reports through the API: trust that
                continue
            points = tailer.read(self.clock(), hold=self.source == "auto")
            if points:
                self.store.add_metrics(tid, points)

    def finish(self, trial_id: int) -> None:
        """The trial's process is gone: store what its last lines said."""
        tailer = self._tailers.pop(trial_id, None)
        trial = self.store.trial(trial_id)
        if tailer is None or self.source == "api" or (trial and trial.api_seen):
            return
        points = tailer.read(self.clock(), hold=False, final=True)
        if points:
            self.store.add_metrics(trial_id, points)

    def note_acks(self) -> None:
        """Record, once each, the tweaks trials applied and the step they hold from."""
        since, self._acks_checked = self._acks_checked - ACK_CLOCK_SKEW, self.clock()
        for c in self.store.param_changes(applied_since=since):
            if c.id in self._acked:
                continue
            self._acked.add(c.id)
            self.store.add_event(
                "tweak_applied", "trial",
                f"trial {c.trial_id}: {c.name}={c.value} holds from step {c.applied_step}",
                trial_id=c.trial_id,
                data={"name": c.name, "value": c.value, "step": c.applied_step})
