"""The UI thread's copy of the run: the model's deltas applied in order. No Textual.

Screens read it; only the app's message handlers write it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuitune.store import EventRecord
from tuitune.ui.node_feed import NodesView
from tuitune.ui.records import Curve, RunDelta, RunHeader, TrialRow
from tuitune.ui.system_feed import SystemView

#: Events kept for the detail screen and the event pane (the store keeps all).
MAX_EVENTS = 20_000


@dataclass
class RunView:
    """Everything the screens draw from."""

    header: RunHeader | None = None
    rows: dict[int, TrialRow] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    curves: dict[tuple[int, str], Curve] = field(default_factory=dict)
    metric_names: tuple[str, ...] = ()
    system: SystemView | None = None
    nodes: NodesView | None = None  # a remote run's nodes (node_feed.py)
    loaded: bool = False

    def apply(self, delta: RunDelta) -> set[int]:
        """Apply one poll's findings; returns the trial ids whose rows changed."""
        self.header = delta.header
        if delta.full:
            self.rows = dict(delta.rows)
            self.events = list(delta.events)
        else:
            self.rows.update(delta.rows)
            self.events.extend(delta.events)
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
        self.curves.update(delta.curves)
        if delta.metric_names is not None:
            self.metric_names = delta.metric_names
        if not delta.opening:
            self.loaded = True  # values too, not only the trials
        return set(delta.rows)

    def forget_curves(self, keep: Iterable[tuple[int, str]]) -> None:
        keep = set(keep)
        for key in [k for k in self.curves if k not in keep]:
            del self.curves[key]

    def children(self, trial_id: int) -> list[TrialRow]:
        return [r for r in self.rows.values() if r.parent_id == trial_id]

    def lineage(self, trial_id: int) -> list[TrialRow]:
        """The trial and its ancestors, the trial first."""
        out: list[TrialRow] = []
        seen: set[int] = set()
        row = self.rows.get(trial_id)
        while row is not None and row.id not in seen:
            out.append(row)
            seen.add(row.id)
            row = self.rows.get(row.parent_id) if row.parent_id is not None else None
        return out

    def trial_events(self, trial_id: int) -> list[EventRecord]:
        return [e for e in self.events if e.trial_id == trial_id]

    @property
    def starred(self) -> list[int]:
        return sorted(r.id for r in self.rows.values() if r.starred)
