"""Building the apps: `run_tui` and `run_monitor` use these, and so do the tests,
benchmarks and snapshots (with a fake GPU source, a fixed clock and host)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tuitune.client.reference import Reference
from tuitune.core.spec import Spec, load_spec_json
from tuitune.store import RunStore
from tuitune.system import GpuSource, HostSample
from tuitune.ui.app import POLL_INTERVAL_S, SYSTEM_INTERVAL_S, MonitorApp, TuituneApp
from tuitune.ui.system_feed import SystemFeed


def load_run_spec(run_dir: Path) -> Spec:
    store = RunStore(run_dir)
    try:
        return load_spec_json(store.meta()["spec"])
    finally:
        store.close()


def build_app(run_dir: Path, *, clock: Callable[[], float] = time.time,
              gpu_source: GpuSource | None = None, host: Callable[[], HostSample] | None = None,
              steady: bool = False, poll_interval: float = POLL_INTERVAL_S,
              system_interval: float = SYSTEM_INTERVAL_S, ascii: bool = False,
              reference: Reference | None = None) -> TuituneApp:
    """The app `run_tui` runs; tests and snapshots build theirs here too. `ascii`:
    draw with ASCII only (glyphs.py); `reference`: another run's best trial, dotted."""
    if gpu_source is None:
        from tuitune.system.gpu import NvmlGpuSource

        gpu_source = NvmlGpuSource()
    feed = SystemFeed(gpu_source, clock=clock, host=host, steady=steady)
    app = TuituneApp(Path(run_dir), load_run_spec(Path(run_dir)), clock=clock, feed=feed,
                     poll_interval=poll_interval, system_interval=system_interval,
                     reference=reference)
    app.ascii_drawing = ascii
    return app


def build_monitor(*, clock: Callable[[], float] = time.time,
                  gpu_source: GpuSource | None = None,
                  host: Callable[[], HostSample] | None = None, steady: bool = False,
                  system_interval: float = SYSTEM_INTERVAL_S, ascii: bool = False
                  ) -> MonitorApp:
    if gpu_source is None:
        from tuitune.system.gpu import NvmlGpuSource

        gpu_source = NvmlGpuSource()
    feed = SystemFeed(gpu_source, clock=clock, host=host, steady=steady)
    app = MonitorApp(clock, feed, system_interval)
    app.ascii_drawing = ascii
    return app
