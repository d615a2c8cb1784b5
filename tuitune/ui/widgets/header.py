"""The run header: name, mode, budget bars, best objective so far."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style

from tuitune.core.history import PAUSED, QUEUED, RUNNING
from tuitune.ui import fmt, palette
from tuitune.ui.records import RunHeader
from tuitune.ui.series import bar, nice_number
from tuitune.ui.widgets.lines import Line, LineWidget, Run


class RunHeaderBar(LineWidget):
    """Two lines: who and what, then how much of the budget is used."""

    DEFAULT_CSS = """
    RunHeaderBar { height: 2; background: $panel; }
    """

    def __init__(self, clock: Callable[[], float], id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._header: RunHeader | None = None
        self.notice = ""

    def show(self, header: RunHeader | None) -> None:
        self._header = header
        self.redraw_soon()

    def build(self, width: int, height: int) -> list[Line]:
        h = self._header
        if h is None:
            return [[(" tuitune  loading the run…", palette.BOLD)]]
        mode = "manual" if h.strategy == "manual" else f"auto: {h.strategy}"
        sup: Run = ("● live", palette.GOOD) if h.supervisor_alive else (
            (f"■ {h.finished_reason or 'finished'}", palette.DIM) if h.run_state == "finished"
            else ("○ no supervisor", palette.WARN))
        best: list[Run] = [(f"best {h.objective.metric} ", palette.DIM)]
        if h.best is None:
            best.append(("-", palette.DIM))
        else:
            best += [(nice_number(h.best), palette.GOOD + palette.BOLD),
                     (f" (#{h.best_trial})", palette.DIM)]
        line1: list[Run] = [(" ", None), (h.name, palette.BOLD), ("  ", None),
                            (mode, palette.ACCENT), ("  ", None), sup, ("   ", None), *best]
        if self.notice:
            line1 += [("   ", None), (self.notice, palette.WARN)]
        return [line1, self._budget_line(h, width)]

    def _budget_line(self, h: RunHeader, width: int) -> list[Run]:
        running = h.counts.get(RUNNING, 0)
        queued = h.counts.get(QUEUED, 0)
        paused = h.counts.get(PAUSED, 0)
        total = sum(h.counts.values())
        bar_w = 10 if width >= 100 else 6
        out: list[Run] = [(" trials ", palette.DIM)]
        if h.max_trials:
            out += [(bar(h.budget_used / h.max_trials, bar_w), palette.BAR),
                    (f" {h.budget_used}/{h.max_trials}", None)]
        else:
            out.append((f"{total}", None))
        busy = [f"{running} running"] + ([f"{paused} paused"] if paused else []) + (
            [f"{queued} queued"] if queued else [])
        out.append((f" ({', '.join(busy)}, max {h.max_concurrent})", palette.DIM))
        out.append(("   time ", palette.DIM))
        elapsed = None
        if h.started_at is not None:
            end = h.ended_at if h.ended_at is not None else self._clock()
            elapsed = max(0.0, end - h.started_at)
        if h.experiment_timeout:
            frac = None if elapsed is None else elapsed / h.experiment_timeout
            out += [(bar(frac, bar_w), palette.BAR),
                    (f" {fmt.duration(elapsed, True)}/{fmt.duration(h.experiment_timeout)}", None)]
        else:
            out.append((fmt.duration(elapsed, True), None))
        return out


def badge(text: str, style: Style) -> Run:
    return (f" {text} ", style)
