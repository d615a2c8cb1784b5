"""GPUs full screen: every GPU with its history, the host, and the list of GPU
processes with the trial each belongs to, and the selected one's process tree.

A process of no live trial is an orphan; K ends it (after confirmation), and
only if it is one of the user's own.
"""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuitune.system.gpu_procs import GpuProc, children_of, end_process
from tuitune.ui import fmt, palette
from tuitune.ui.context import DescribeProcesses, SystemContext, watch_frames
from tuitune.ui.messages import ProcessEnded
from tuitune.ui.screens.dialogs import ConfirmDialog
from tuitune.ui.system_feed import SystemView
from tuitune.ui.widgets.lines import Line, LineWidget, Run
from tuitune.ui.widgets.system_panel import SystemPanel


class ProcessList(LineWidget, can_focus=True):
    """GPU processes, one per line, with a cursor."""

    DEFAULT_CSS = """
    ProcessList { height: 1fr; min-height: 3; }
    """

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
    ]

    def __init__(self, in_run: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.in_run = in_run
        self.procs: tuple[GpuProc, ...] = ()
        self.cursor = 0

    def show(self, procs: tuple[GpuProc, ...]) -> None:
        self.procs = procs
        self.cursor = min(self.cursor, max(0, len(procs) - 1))
        self.redraw()

    @property
    def selected(self) -> GpuProc | None:
        return self.procs[self.cursor] if self.procs else None

    def action_move(self, delta: int) -> None:
        if self.procs:
            self.cursor = max(0, min(len(self.procs) - 1, self.cursor + delta))
            self.redraw()
            self.screen.refresh_tree()

    def build(self, width: int, height: int) -> list[Line]:
        head = f" {'gpu':>3} {'pid':>7} {'user':<10} {'owner':<8} {'gpu mem':>7} {'sm':>4} " \
               f"{'cpu':>5} {'rss':>6}  command"
        lines: list[Line] = [[(head[:width], palette.BOLD)]]
        if not self.procs:
            lines.append([(" no GPU compute processes", palette.DIM)])
        top = max(0, self.cursor - (height - 2))
        for i, p in enumerate(self.procs[top:top + height - 1], start=top):
            if p.trial_id is not None:
                owner: Run = (f"#{p.trial_id}".ljust(8), palette.GOOD)
            else:
                owner = ("orphan".ljust(8) if self.in_run else "-".ljust(8),
                         palette.WARN if self.in_run else palette.DIM)
            sm = "-" if p.sm_util is None else f"{p.sm_util:.0f}%"
            cpu = "-" if p.cpu_pct is None else f"{p.cpu_pct:.0f}%"
            runs: list[Run] = [
                (f" {p.gpu:>3} {p.pid:>7} {fmt.fit(p.user, 10)} ", None), owner,
                (f" {fmt.mb(p.mem_mb):>7} {sm:>4} {cpu:>5} {fmt.mb(p.rss_mb):>6}  ", None),
                (fmt.ascii_safe(p.cmdline or p.name), palette.DIM),
            ]
            if i == self.cursor:
                style = palette.CURSOR if self.has_focus else palette.CURSOR_DIM
                runs = [(t, (s + style) if s else style) for t, s in runs]
            lines.append(runs)
        return lines

    def on_focus(self) -> None:
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()


class GpuScreen(Screen):
    """The GPU and host panels full screen, with processes."""

    HELP_TITLE = "GPUs (g)"

    BINDINGS = [
        Binding("K", "end_process", "End orphan process"),
        Binding("question_mark,f1", "app.help", "Help"),
    ]

    def __init__(self, standalone: bool) -> None:
        super().__init__()
        self.standalone = standalone
        self._tree_for: tuple[int, float | None] | None = None
        self._children: list[tuple[int, str]] = []
        if standalone:
            self._bindings.bind("q", "app.quit", "Quit")
        else:
            self._bindings.bind("b,q,escape", "app.pop_screen", "Back")

    def compose(self) -> ComposeResult:
        yield Static(" GPUs and host" + ("" if self.standalone else "  (this run's trials)"),
                     id="gpu-title")
        yield SystemPanel(id="gpu-panel", orphan_hint=False)
        yield ProcessList(in_run=not self.standalone, id="procs")
        yield Static(id="proc-tree")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.post_message(DescribeProcesses(True))
        self.query_one(ProcessList).focus()
        watch_frames(self, lambda frame: frame.system is not None
                     and self.refresh_system(frame.system))
        view = cast(SystemContext, self.app).view.system
        if view is not None:  # a sample that came before this screen
            self.refresh_system(view)

    def on_unmount(self) -> None:
        self.app.post_message(DescribeProcesses(False))  # this screen's queue is closing

    def refresh_system(self, view: SystemView) -> None:
        panel = self.query_one("#gpu-panel", SystemPanel)
        panel.styles.height = len(view.snapshot.gpus) + 2
        panel.show(view)
        self.query_one(ProcessList).show(view.processes)
        self.refresh_tree()

    def refresh_tree(self) -> None:
        p = self.query_one(ProcessList).selected
        tree = self.query_one("#proc-tree", Static)
        if p is None:
            tree.update("")
            return
        t = Text()
        chain = list(reversed(p.ancestors)) + [(p.pid, p.name)]
        for depth, (pid, name) in enumerate(chain):
            t.append("  " * depth + ("└ " if depth else ""))
            t.append(f"{fmt.ascii_safe(name)} ({pid})", palette.BOLD if pid == p.pid else None)
            if pid == p.pid:
                owner = f"trial {p.trial_id}" if p.trial_id is not None else (
                    "orphan: belongs to no live trial" if not self.standalone else "no trial")
                t.append(f"  GPU {p.gpu} {fmt.mb(p.mem_mb)}  {owner}",
                         palette.WARN if p.trial_id is None else palette.GOOD)
            t.append("\n")
        if self._tree_for != (p.pid, p.create_time):  # descendants: read on selection only
            self._tree_for = (p.pid, p.create_time)
            self._children = children_of(p.pid)
        for pid, name in self._children[:5]:
            t.append("  " * len(chain) + f"└ {fmt.ascii_safe(name)} ({pid})\n", palette.DIM)
        tree.update(t)

    def action_end_process(self) -> None:
        p = self.query_one(ProcessList).selected
        if p is None:
            self.app.notify("no GPU process selected", severity="warning")
            return
        if p.trial_id is not None:
            self.app.notify(f"pid {p.pid} is trial {p.trial_id}: kill the trial instead "
                            "(k in the trial table)", severity="warning")
            return
        if not p.own:
            self.app.notify(f"pid {p.pid} belongs to {p.user}: only your own processes can "
                            "be ended", severity="error")
            return
        self.app.push_screen(
            ConfirmDialog(f"End process {p.pid} ({p.name})?",
                          f"{p.cmdline[:200]}\nIt holds {fmt.mb(p.mem_mb)} on GPU {p.gpu} and "
                          "belongs to no trial. It gets SIGTERM.", "End it"),
            lambda ok: ok and self._end(p))

    @work(thread=True, exit_on_error=False)
    def _end(self, p: GpuProc) -> None:
        self.app.post_message(ProcessEnded(p.pid, end_process(p.pid, p.create_time)))
