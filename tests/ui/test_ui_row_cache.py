"""The trial table's row cache knows every input of a cell (issue 11, item 5): a
column that shows what the sampler measures (CPU, RSS) is redrawn when it changes,
although the trial's row did not."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import App, ComposeResult
from ui_helpers import FixedClock, screen_text, wait_for

from tuitune.system import TrialUsage
from tuitune.ui.factory import load_run_spec
from tuitune.ui.model import RunModel
from tuitune.ui.widgets.columns import Column, Ctx, columns_for
from tuitune.ui.widgets.trial_table import TrialTable


def _usage_reads(attr: str):
    def reads(row, ctx: Ctx) -> Hashable:
        use = ctx.usage.get(row.id)
        return None if use is None else getattr(use, attr)
    return reads


def _shown(unit: str):
    def cell(row, w: int, seen: Hashable) -> list:
        text = "-" if seen is None else f"{seen:.0f}{unit}"
        return [(text.rjust(w), None)]
    return cell


CPU = Column("cpu", "cpu", 6, 0.5, _shown("%"), "r", reads=_usage_reads("cpu_pct"))
RSS = Column("rss", "rss", 7, 0.6, _shown("M"), "r", reads=_usage_reads("rss_mb"))


class TableApp(App):
    def __init__(self, run_dir) -> None:
        super().__init__()
        spec = load_run_spec(run_dir)
        model = RunModel(run_dir, spec, FixedClock())
        rows = dict(model.poll().rows)
        model.close()
        self.rows = rows
        base = [c for c in columns_for(spec) if c.key in ("id", "state")]
        self.table = TrialTable(spec, FixedClock(), columns=[*base, CPU, RSS])

    def compose(self) -> ComposeResult:
        yield self.table


def _line_of(app, trial_id: int) -> str:
    return next((line for line in screen_text(app).splitlines()
                 if line.split()[:1] == [str(trial_id)]), "")


def _use(cpu: float, rss: float) -> dict[int, TrialUsage]:
    return {1: TrialUsage(1, (4242,), cpu_pct=cpu, rss_mb=rss, gpu_ids=(0,), gpu_mem_mb=900.0)}


async def test_a_cpu_and_rss_column_follow_the_samples(fixed_run):
    app = TableApp(fixed_run)
    async with app.run_test(size=(60, 20)) as pilot:
        app.table.set_rows(app.rows)
        app.table.set_usage(_use(12.0, 300.0))
        await wait_for(pilot, lambda: "12%" in _line_of(app, 1), what="the first sample")
        assert "300M" in _line_of(app, 1)
        # Same row object, same GPU use: only the CPU and memory moved.
        app.table.set_usage(_use(87.0, 1234.0))
        await wait_for(pilot, lambda: "87%" in _line_of(app, 1), timeout=5,
                       what="the new CPU figure")
        assert "1234M" in _line_of(app, 1)
        app.table.set_usage({})  # the process is gone
        await wait_for(pilot, lambda: "87%" not in _line_of(app, 1), timeout=5,
                       what="the sample to go")
