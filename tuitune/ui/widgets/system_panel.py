"""Per-GPU utilization, memory, temperature and power with a short history on a
fixed 0-100 scale, and host CPU/RAM. With no NVIDIA driver: one line saying so.

Each GPU takes one line; the line drops detail (name, then the memory history,
then power) to fit its width, never cutting a value in half.
"""

from __future__ import annotations

import math

from tuitune.system import GpuSample, SystemSnapshot
from tuitune.system.sampler import HOST_CPU_KEY, HOST_RAM_KEY, gpu_mem_key, gpu_util_key
from tuitune.ui import fmt, palette
from tuitune.ui.series import sparkline
from tuitune.ui.system_feed import SystemView
from tuitune.ui.widgets.lines import Line, LineWidget, Run


class SystemPanel(LineWidget):
    """GPUs and host; `show(view)` once per sample."""

    DEFAULT_CSS = """
    SystemPanel { height: 1fr; }
    """

    def __init__(self, id: str | None = None, orphan_hint: bool = True) -> None:
        super().__init__(id=id)
        self.view: SystemView | None = None
        self.orphan_hint = orphan_hint

    def show(self, view: SystemView) -> None:
        self.view = view
        self.redraw()

    def build(self, width: int, height: int) -> list[Line]:
        return draw_system(self.view, width, height, self.orphan_hint)


def draw_system(view: SystemView | None, width: int, height: int,
                orphan_hint: bool = True) -> list[Line]:
    if view is None:
        return [[(" sampling GPUs and host…", palette.DIM)]]
    snap = view.snapshot
    lines: list[Line] = []
    if not snap.gpus:
        lines.append([(" GPU ", palette.BOLD), (_no_gpu_text(snap), palette.DIM)])
    layout = Layout.fit(width)
    for gpu in snap.gpus:
        lines.append(gpu_line(gpu, view.history, layout))
    lines.append(_host_line(view, layout))
    if orphan_hint and snap.orphans:
        n = len(snap.orphans)
        lines.append([(f" {n} GPU process{'es' if n > 1 else ''} of no trial (orphan"
                       f"{'s' if n > 1 else ''}): g opens the GPU screen", palette.WARN)])
    if len(lines) > height and height > 0:
        hidden = len(lines) - height + 1
        lines = lines[:height - 1] + [[(f" … {hidden} more lines: g opens the GPU screen",
                                        palette.DIM)]]
    return lines


def _no_gpu_text(snap: SystemSnapshot) -> str:
    return "no NVIDIA GPU" if snap.gpu_status == "ok" else snap.gpu_status


class Layout:
    """Which fields every GPU line shows at a width: the same for all GPUs, so
    columns line up; values are never cut, whole fields are dropped instead."""

    IDX, UTIL, MEM, TEMP, POWER = 4, 9, 22, 5, 11

    def __init__(self, spark: int, temp: bool, power: bool, name: int) -> None:
        self.spark, self.temp, self.power, self.name = spark, temp, power, name

    @classmethod
    def fit(cls, width: int) -> Layout:
        left = width - cls.IDX - cls.UTIL - cls.MEM
        temp = left >= cls.TEMP
        left -= cls.TEMP if temp else 0
        power = left >= cls.POWER
        left -= cls.POWER if power else 0
        spark = 0
        for w in (24, 16, 12, 8):
            if left >= 2 + w + w // 2:
                spark = w
                break
        left -= (2 + spark + spark // 2) if spark else 0
        name = left - 2 if left >= 12 else 0
        return cls(spark, temp, power, min(name, 28))


def gpu_line(gpu: GpuSample, history: dict[str, tuple[float, ...]], layout: Layout) -> Line:
    runs: list[Run] = [(f" {gpu.index:>2} ", palette.BOLD)]
    if gpu.error is not None:
        return runs + [(f"(({gpu.error}))", palette.BAD)]
    util, mem_pct = gpu.util_pct, gpu.mem_pct
    runs += [("util ", palette.DIM), (fmt.pct(util).rjust(4), palette.level_style(util))]
    if layout.spark:
        runs += [(" ", None), (sparkline(history.get(gpu_util_key(gpu.index), ()),
                                         layout.spark, 0, 100), palette.SPARK)]
    mem = f"{fmt.mb(gpu.mem_used_mb)}/{fmt.mb(gpu.mem_total_mb)}"
    runs += [("  mem ", palette.DIM), (mem.rjust(11), None),
             (f" {fmt.pct(mem_pct).rjust(4)}", palette.level_style(mem_pct))]
    if layout.spark:
        runs += [(" ", None), (sparkline(history.get(gpu_mem_key(gpu.index), ()),
                                         layout.spark // 2, 0, 100), palette.BAR)]
    if layout.temp:
        temp = "n/a" if gpu.temp_c is None else f"{gpu.temp_c:.0f}C"
        hot = gpu.temp_c is not None and gpu.temp_c >= 85
        runs.append((f"  {temp:>3}", palette.BAD if hot else None))
    if layout.power:
        power = "n/a" if gpu.power_w is None else f"{gpu.power_w:.0f}W"
        if gpu.power_limit_w is not None and gpu.power_w is not None:
            power = f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f}W"
        runs.append((f"  {power:>9}", None))
    if layout.name:
        runs.append((f"  {fmt.fit(fmt.ascii_safe(gpu.name), layout.name)}", palette.DIM))
    return runs


def _host_line(view: SystemView, layout: Layout) -> Line:
    host = view.snapshot.host
    runs: list[Run] = [(" host ", palette.BOLD), ("cpu ", palette.DIM),
                       (f"{host.cpu_pct:.0f}%".rjust(4), palette.level_style(host.cpu_pct))]
    if layout.spark:
        runs += [(" ", None), (sparkline(view.history.get(HOST_CPU_KEY, ()), layout.spark,
                                         0, 100), palette.SPARK)]
    ram = f"{fmt.mb(host.ram_used_mb)}/{fmt.mb(host.ram_total_mb)}"
    runs += [("  ram ", palette.DIM), (ram.rjust(11), None),
             (f" {host.ram_pct:.0f}%".rjust(5), palette.level_style(host.ram_pct))]
    if layout.spark:
        runs += [(" ", None), (sparkline(view.history.get(HOST_RAM_KEY, ()),
                                         layout.spark // 2, 0, 100), palette.BAR)]
    if layout.temp:
        runs.append((f"  {host.ncpu} cpus", palette.DIM))
    return runs


def finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)
