"""What the supervisor watches for so it can tell you (`[notify]`): a new best result,
a running trial that stopped reporting (stalled), a GPU idle while trials run on it.

Pure bookkeeping: `check` gets what the supervisor already has (the objective's
curves, the running trials, the last GPU sample) and returns the events to record;
each is said once per episode (a stalled trial that reports again, or an idle GPU
that works again, can be said again later).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tuitune.core.history import FINISHED_STATES, Objective
from tuitune.core.numfmt import value as shown
from tuitune.core.spec import NotifyConfig

#: Below this utilisation (percent) a GPU counts as idle.
IDLE_PCT = 5.0


@dataclass(frozen=True)
class Seen:
    """An event to record: (kind, trial id or None, message, data)."""

    kind: str
    trial_id: int | None
    message: str
    data: dict


class Watch:
    def __init__(self, config: NotifyConfig, objective: Objective) -> None:
        self.config, self.objective = config, objective
        self._best: float | None = None
        self._judged: set[int] = set()  # finished trials already compared with the best
        self._points: dict[int, tuple[int, float]] = {}  # trial -> (points, since when)
        self._stalled: set[int] = set()
        self._idle_since: dict[int, float] = {}
        self._idle_said: set[int] = set()

    def baseline(self, finished: Iterable[tuple[int, float | None]]) -> None:
        """Trials finished before this supervisor: the best to beat, not news."""
        for tid, value in finished:
            self._judged.add(tid)
            if value is not None and (self._best is None or self.objective.better(value,
                                                                                 self._best)):
                self._best = value

    def new_best(self, trials: Iterable[tuple[int, str, float | None]]) -> list[Seen]:
        """Finished trials (id, state, best value) better than every one before them."""
        out = []
        for tid, state, value in trials:
            if tid in self._judged or state not in FINISHED_STATES:
                continue
            self._judged.add(tid)
            if value is None:
                continue
            if self._best is None or self.objective.better(value, self._best):
                before, self._best = self._best, value
                was = f" (was {shown(before)})" if before is not None else ""
                out.append(Seen("new_best", tid, f"new best: trial {tid} "
                                f"{self.objective.metric} = {shown(value)}{was}",
                                {"value": value, "previous": before}))
        return out

    def stalled(self, running: Sequence[tuple[int, float | None]], points: Mapping[int, int],
                now: float) -> list[Seen]:
        """Running trials (id, started at) that reported no point for `stall_after`."""
        after = self.config.stall_after
        if not after:
            return []
        out = []
        live = {tid for tid, _ in running}
        for tid in list(self._points):
            if tid not in live:
                del self._points[tid]
                self._stalled.discard(tid)
        for tid, started in running:
            n = points.get(tid, 0)
            seen = self._points.get(tid)
            if seen is None or seen[0] != n:  # first seen silent: silent since it started
                self._points[tid] = (n, started if seen is None and n == 0 and started is not None
                                     else now)
                self._stalled.discard(tid)
                continue
            if now - seen[1] >= after and tid not in self._stalled:
                self._stalled.add(tid)
                out.append(Seen("stalled", tid, f"trial {tid} stalled: no report for "
                                f"{now - seen[1]:.0f}s", {"silent_s": now - seen[1]}))
        return out

    def gpu_idle(self, busy: Mapping[int, Sequence[int]], util: Mapping[int, float | None],
                 now: float) -> list[Seen]:
        """GPUs (index -> trials running on it) idle for `gpu_idle_after`."""
        after = self.config.gpu_idle_after
        if not after:
            return []
        out = []
        for gpu in list(self._idle_since):
            if gpu not in busy:
                self._idle_since.pop(gpu)
                self._idle_said.discard(gpu)
        for gpu, trials in busy.items():
            pct = util.get(gpu)
            if pct is None or pct >= IDLE_PCT:
                self._idle_since.pop(gpu, None)
                self._idle_said.discard(gpu)
                continue
            since = self._idle_since.setdefault(gpu, now)
            if now - since >= after and gpu not in self._idle_said:
                self._idle_said.add(gpu)
                names = ", ".join(str(t) for t in trials)
                out.append(Seen("gpu_idle", None, f"GPU {gpu} idle for {now - since:.0f}s "
                                f"while trial{'s' * (len(trials) > 1)} {names} run on it",
                                {"gpu": gpu, "trials": list(trials), "idle_s": now - since}))
        return out
