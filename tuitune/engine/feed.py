"""What trials say besides their API reports: metric lines in their output, and
acknowledgements of tweaks. The supervisor reads both through a TrialFeed."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tuitune.engine.logs import LogTailer, Parsed
from tuitune.engine.runs import trial_dir
from tuitune.engine.stdout_metrics import MAX_LINE_CHARS
from tuitune.core.history import LIVE_STATES
from tuitune.store import RunStore, StoreError

ACK_CLOCK_SKEW = 5.0  # seconds: trials stamp acks with their own clock
#: Wall time one `read()` may spend parsing, over all trials; what is left waits for
#: the next call, so one trial's output never holds up commands or other trials.
READ_BUDGET_S = 0.05
#: The same for `finish()`, which reads an ended trial's last output at once; a
#: longer remainder is read in later `read()` calls like a running trial's output.
FINISH_BUDGET_S = 0.25
#: Bytes parsed between looks at the clock (~25 ms of the densest metric text).
CHUNK_BYTES = 64 << 10


class TrialFeed:
    """Follows trials' logs (per the spec's `[metrics] source`) and turns tweak
    acknowledgements into events.

    Args:
        not_metrics: Names never taken for metrics from output (see
            `Spec.stdout_not_metrics`).
    """

    def __init__(self, store: RunStore, run_dir: Path, source: str,
                 clock: Callable[[], float], not_metrics: Iterable[str] = ()) -> None:
        self.store, self.run_dir, self.source, self.clock = store, run_dir, source, clock
        self.not_metrics = frozenset(not_metrics)
        self._tailers: dict[int, LogTailer] = {}
        self._draining: dict[int, LogTailer] = {}  # ended trials with output left to read
        self._overlong_said: set[int] = set()
        self._turn = 0  # round-robin start, so a budget cut never starves the same trial
        self._acked: set[int] = set()
        self._acks_checked = 0.0

    def attach(self, trial_id: int, resume: bool = False) -> None:
        """Start following a trial's log where reading it last stopped."""
        self._draining.pop(trial_id, None)
        self._tailers[trial_id] = self._tailer(trial_id, resume)

    def _tailer(self, trial_id: int, resume: bool) -> LogTailer:
        position = self.store.parse_position(trial_id)
        skip: dict[str, int] = {}
        if position is None and resume:
            # A run from before positions were stored: skip steps already stored.
            for p in self.store.metrics(trial_id=trial_id):
                skip[p.name] = max(skip.get(p.name, p.step), p.step)
        return LogTailer(trial_dir(self.run_dir, trial_id) / "log.txt", skip,
                         self.not_metrics, position)

    def detach(self, trial_id: int) -> None:
        self._tailers.pop(trial_id, None)

    def read(self) -> None:
        """Store metric points parsed from new output, within READ_BUDGET_S."""
        if self.source == "api" or not (self._tailers or self._draining):
            return
        api_seen = {t.id for t in self.store.trials(LIVE_STATES) if t.api_seen}
        live = [(tid, t, False) for tid, t in self._tailers.items()]
        work = live + [(tid, t, True) for tid, t in self._draining.items()]
        self._turn = (self._turn + 1) % len(work)
        deadline = time.monotonic() + READ_BUDGET_S
        for tid, tailer, ended in work[self._turn:] + work[:self._turn]:
            if time.monotonic() > deadline:
                return
            if not ended and self.source == "auto" and tid in api_seen:
                tailer.discard()  # the script reports through the API: trust that
                continue
            at_end = self._read_until(tid, tailer, deadline, ended)
            if ended and at_end:
                del self._draining[tid]

    def finish(self, trial_id: int) -> None:
        """The trial's process is gone: store what its last lines said (a very long
        remainder goes on being read by `read()`)."""
        tailer = self._tailers.pop(trial_id, None)
        trial = self.store.trial(trial_id)
        if self.source == "api" or (trial and trial.api_seen):
            return
        if tailer is None:  # e.g. it ended while no supervisor was watching
            tailer = self._tailer(trial_id, resume=True)
        if not self._read_until(trial_id, tailer, time.monotonic() + FINISH_BUDGET_S, True):
            self._draining[trial_id] = tailer

    def drain(self) -> None:
        """Read all that ended trials left unread (the run is over: no one waits)."""
        for tid, tailer in list(self._draining.items()):
            try:
                self._read_until(tid, tailer, math.inf, ended=True)
            except StoreError:
                return  # the rest stays in the logs, from the position stored
            del self._draining[tid]

    def _read_until(self, trial_id: int, tailer: LogTailer, deadline: float,
                    ended: bool) -> bool:
        """Parse a trial's new output chunk by chunk until its end (True) or the
        deadline."""
        while True:
            parsed = tailer.read(self.clock(), hold=self.source == "auto" and not ended,
                                 final=ended, max_bytes=CHUNK_BYTES)
            self._store(trial_id, tailer, parsed)
            if parsed.at_end or time.monotonic() > deadline:
                return parsed.at_end

    def _store(self, trial_id: int, tailer: LogTailer, parsed: Parsed) -> None:
        if parsed.points:
            try:
                self.store.add_parsed_metrics(trial_id, parsed.points, parsed.position)
            except StoreError:
                # Not stored (a full disk): read those lines again from the stored
                # position once writes work.
                for following in (self._tailers, self._draining):
                    if trial_id in following:
                        following[trial_id] = self._tailer(trial_id, resume=True)
                raise
        if tailer.overlong and trial_id not in self._overlong_said:
            self._overlong_said.add(trial_id)
            self.store.add_event(
                "output_skipped", "engine",
                f"trial {trial_id}: a line of its output longer than {MAX_LINE_CHARS:,} "
                f"characters was skipped (no metrics are read from such lines; said once)",
                trial_id=trial_id)

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

