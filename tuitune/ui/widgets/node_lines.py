"""The remote nodes' part of the system panel. No Textual.

In full, each node is a title (name, trials, how old its sample is) over the same
GPU and host lines as this machine. When that does not fit, each node collapses
to one line (CPU, RAM, each GPU's utilization, age); past the height, a last
line counts the nodes left out. Values that are not current (the sample is old,
or the node died) are drawn dim, and their title says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuitune.system import GpuSample, HostSample
from tuitune.ui import fmt, palette
from tuitune.ui.node_feed import NodeSample, NodeState, NodesView
from tuitune.ui.widgets.gpu_lines import Layout, gpu_line, host_line, no_gpu_line
from tuitune.ui.widgets.lines import Line, Run

#: Widest node name shown in a collapsed line ("255.255.255.255#abcdef" is 22).
LABEL_MAX = 22


def draw_nodes(nodes: NodesView, width: int, height: int) -> list[Line]:
    """Every node in full if all fit in `height` lines, else a line each. Only the
    lines shown are built (a cluster may have many nodes)."""
    layout = Layout.fit(width)
    if sum(block_height(node) for node in nodes.nodes) <= height:
        return [line for node in nodes.nodes for line in node_block(nodes, node, width, layout)]
    shown = nodes.nodes if len(nodes.nodes) <= height else nodes.nodes[:max(0, height - 1)]
    label_width = min(LABEL_MAX, max(len(n.label) for n in nodes.nodes))
    lines = [node_summary(nodes, node, width, label_width) for node in shown]
    left_out = nodes.nodes[len(shown):]
    if left_out and height > 0:
        bad = sum(not nodes.state(n).current for n in left_out)
        lines.append([(f" … {len(left_out)} more nodes" + (f" ({bad} not current)" if bad
                                                            else ""),
                       palette.WARN if bad else palette.DIM)])
    return lines


def block_height(node: NodeSample) -> int:
    """Lines of a node's full block: its title, GPUs (or the no-GPU line), host."""
    gpus = len(node.gpus) or (1 if node.gpu_status is not None else 0)
    return 1 + gpus + (node.host is not None)


def node_block(nodes: NodesView, node: NodeSample, width: int, layout: Layout
               ) -> list[Line]:
    state = nodes.state(node)
    n = len(node.trials)
    title: list[Run] = [(f" {fmt.ascii_safe(node.label)}", palette.BOLD)]
    if n:
        title.append((f"  {n} trial{'s' if n > 1 else ''}", palette.DIM))
    end = _state_run(state, long=True)
    if _length(title) + len(end[0]) > width:
        end = _state_run(state, long=False)
    title.append(end)
    body: list[Line] = []
    history = nodes.history.get(node.node_id, {})
    if node.gpu_status is not None and not node.gpus:
        body.append(no_gpu_line(node.gpu_status))
    body += [gpu_line(gpu, history, layout) for gpu in node.gpus]
    if node.host is not None:
        body.append(host_line(node.host, history, layout))
    if not state.current:
        body = [_dimmed(line) for line in body]
    return [title, *body]


def node_summary(nodes: NodesView, node: NodeSample, width: int, label_width: int) -> Line:
    state = nodes.state(node)
    end = _state_run(state, long=False)
    line = machine_summary(f" {fmt.fit(fmt.ascii_safe(node.label), label_width)}", node.host,
                           node.gpus, node.gpu_status, width - len(end[0]))
    if not state.current:
        line = _dimmed(line)
    gap = width - _length(line) - len(end[0])
    return [*line, (" " * gap, None), end]  # ages line up at the right edge


def machine_summary(label: str, host: HostSample | None, gpus: Sequence[GpuSample],
                    gpu_status: str | None, width: int) -> Line:
    """One line for a machine: CPU, RAM and as many GPUs' utilization as fit. Where
    not even one GPU fits, RAM and then CPU make room: the GPUs matter most."""
    fields = _host_fields(host)
    for keep in range(len(fields), -1, -1):
        runs: list[Run] = [(label, palette.BOLD)]
        runs += [run for field in fields[:keep] for run in field]
        room = width - _length(runs)
        tail = _gpu_runs(gpus, room) if gpus else _status_runs(gpu_status, room)
        if tail is not None:
            return runs + tail
    return runs


def _host_fields(host: HostSample | None) -> list[list[Run]]:
    if host is None:
        return []
    return [[(" cpu ", palette.DIM), (fmt.pct(host.cpu_pct).rjust(4),
                                      palette.level_style(host.cpu_pct))],
            [(" ram ", palette.DIM), (fmt.pct(host.ram_pct).rjust(4),
                                      palette.level_style(host.ram_pct))]]


def _gpu_runs(gpus: Sequence[GpuSample], room: int) -> list[Run] | None:
    """Each GPU's utilization, "+N" for those that do not fit; None if none fits."""
    runs: list[Run] = [("  gpu", palette.DIM)]
    used = 5
    for i, gpu in enumerate(gpus):
        cell = " err" if gpu.error is not None else f" {fmt.pct(gpu.util_pct):>3}"
        more = f" +{len(gpus) - i - 1}" if i < len(gpus) - 1 else ""
        if used + len(cell) + len(more) > room:
            if i == 0:
                return None
            runs.append((f" +{len(gpus) - i}", palette.DIM))
            return runs
        runs.append((cell, palette.BAD if gpu.error else palette.level_style(gpu.util_pct)))
        used += len(cell)
    return runs


def _status_runs(gpu_status: str | None, room: int) -> list[Run] | None:
    if gpu_status is None:  # never sampled
        return []
    text = "no NVIDIA GPU" if gpu_status == "ok" else gpu_status
    if room < 2 + min(len(text), 13):
        return None
    return [("  " + fmt.fit(text, min(len(text), room - 2)), palette.DIM)]


def _length(line: Line) -> int:
    return sum(len(text) for text, _ in line)


def _state_run(state: NodeState, long: bool) -> Run:
    age = fmt.duration(state.age, precise=True)
    if state.word == "current":
        return (f"  {age} ago" if long else f"  {age}", palette.DIM)
    if state.word == "stale":
        return (f"  stale: {age} old" if long else f"  stale {age}", palette.WARN)
    if state.word == "lost":
        if state.age is None:
            return ("  lost: node died" if long else "  lost", palette.BAD)
        return (f"  lost: node died, {age} old" if long else f"  lost {age}", palette.BAD)
    return ("  waiting for its first sample" if long else "  waiting", palette.DIM)


def _dimmed(line: Line) -> Line:
    """The same text, dim: values shown for reference, not as current."""
    return [(text, palette.DIM) for text, _ in line]
