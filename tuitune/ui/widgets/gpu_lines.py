"""One line per GPU and one for a host: the rows of the system panel, for this
machine and for every remote node alike.

A line drops detail (name, then the memory history, then power) to fit its
width, never cutting a value in half. No Textual.
"""

from __future__ import annotations

from collections.abc import Mapping

from tuitune.system import GpuSample, HostSample
from tuitune.system.sampler import HOST_CPU_KEY, HOST_RAM_KEY, gpu_mem_key, gpu_util_key
from tuitune.ui import fmt, palette
from tuitune.ui.series import sparkline
from tuitune.ui.widgets.lines import Line, Run

History = Mapping[str, tuple[float, ...]]


class Layout:
    """Which fields every GPU line shows at a width: the same for all GPUs, so
    columns line up; values are never cut, whole fields are dropped instead."""

    IDX, UTIL, MEM, TEMP, POWER = 4, 9, 22, 5, 11

    def __init__(self, spark: int, temp: bool, power: bool, name: int, width: int = 0) -> None:
        self.spark, self.temp, self.power, self.name = spark, temp, power, name
        self.width = width

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
        return cls(spark, temp, power, min(name, 28), width)


def gpu_line(gpu: GpuSample, history: History, layout: Layout) -> Line:
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


def host_line(host: HostSample, history: History, layout: Layout) -> Line:
    runs: list[Run] = [(" host ", palette.BOLD), ("cpu ", palette.DIM),
                       (fmt.pct(host.cpu_pct).rjust(4), palette.level_style(host.cpu_pct))]
    if layout.spark:
        runs += [(" ", None), (sparkline(history.get(HOST_CPU_KEY, ()), layout.spark,
                                         0, 100), palette.SPARK)]
    ram = f"{fmt.mb(host.ram_used_mb)}/{fmt.mb(host.ram_total_mb)}"
    runs += [("  ram ", palette.DIM), (ram.rjust(11), None),
             (f" {fmt.pct(host.ram_pct)}".rjust(5), palette.level_style(host.ram_pct))]
    if layout.spark:
        runs += [(" ", None), (sparkline(history.get(HOST_RAM_KEY, ()),
                                         layout.spark // 2, 0, 100), palette.BAR)]
    cpus = f"  {host.ncpu} cpus"
    if layout.temp and sum(len(text) for text, _ in runs) + len(cpus) <= layout.width:
        runs.append((cpus, palette.DIM))
    return runs


def no_gpu_line(gpu_status: str) -> Line:
    """The one line for a machine without readable GPUs ("ok": there are none)."""
    text = "no NVIDIA GPU" if gpu_status == "ok" else gpu_status
    return [(" GPU ", palette.BOLD), (text, palette.DIM)]
