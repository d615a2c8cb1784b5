"""Per-GPU utilization, memory, temperature and power with a short history on a
fixed 0-100 scale, and host CPU/RAM. With no NVIDIA driver: one line saying so.
A remote (Ray) run adds every node's GPUs and host below this machine's.

Each GPU takes one line (gpu_lines.py); nodes collapse to a line each when
their full blocks do not fit (node_lines.py).
"""

from __future__ import annotations

from tuitune.ui import palette
from tuitune.ui.node_feed import NodesView
from tuitune.ui.system_feed import SystemView
from tuitune.ui.widgets.gpu_lines import Layout, gpu_line, host_line, no_gpu_line
from tuitune.ui.widgets.lines import Line, LineWidget
from tuitune.ui.widgets.node_lines import draw_nodes, machine_summary


class SystemPanel(LineWidget):
    """GPUs and host; `show(view)` once per sample."""

    DEFAULT_CSS = """
    SystemPanel { height: 1fr; }
    """

    def __init__(self, id: str | None = None, orphan_hint: bool = True) -> None:
        super().__init__(id=id)
        self.view: SystemView | None = None
        self.nodes: NodesView | None = None
        self.orphan_hint = orphan_hint

    def show(self, view: SystemView, nodes: NodesView | None = None) -> None:
        self.view = view
        self.nodes = nodes
        self.redraw()

    def build(self, width: int, height: int) -> list[Line]:
        return draw_system(self.view, width, height, self.orphan_hint, self.nodes)


def draw_system(view: SystemView | None, width: int, height: int,
                orphan_hint: bool = True, nodes: NodesView | None = None) -> list[Line]:
    if view is None:
        return [[(" sampling GPUs and host…", palette.DIM)]]
    lines = _this_machine(view, Layout.fit(width), orphan_hint)
    if nodes is not None and nodes.nodes:
        return _with_nodes(view, lines, nodes, width, height)
    if len(lines) > height and height > 0:
        hidden = len(lines) - height + 1
        lines = lines[:height - 1] + [[(f" … {hidden} more lines: g opens the GPU screen",
                                        palette.DIM)]]
    return lines


def _this_machine(view: SystemView, layout: Layout, orphan_hint: bool) -> list[Line]:
    snap = view.snapshot
    lines: list[Line] = []
    if not snap.gpus:
        lines.append(no_gpu_line(snap.gpu_status))
    for gpu in snap.gpus:
        lines.append(gpu_line(gpu, view.history, layout))
    lines.append(host_line(snap.host, view.history, layout))
    if orphan_hint and snap.orphans:
        n = len(snap.orphans)
        lines.append([(f" {n} GPU process{'es' if n > 1 else ''} of no trial (orphan"
                       f"{'s' if n > 1 else ''}): g opens the GPU screen", palette.WARN)])
    return lines


def _with_nodes(view: SystemView, local: list[Line], nodes: NodesView, width: int,
                height: int) -> list[Line]:
    """This machine in full when it leaves room for every node (in full or a line
    each); otherwise one line for it too, so the nodes stay in sight."""
    title: Line = [(" this machine (the supervisor's)", palette.DIM)]
    room = height - len(local) - 1
    if room >= len(nodes.nodes):
        return [title, *local, *draw_nodes(nodes, width, room)]
    summary = machine_summary(" this machine", view.snapshot.host, view.snapshot.gpus,
                              view.snapshot.gpu_status, width)
    return [summary, *draw_nodes(nodes, width, height - 1)]
