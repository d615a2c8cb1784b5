"""psutil side: process identities, host CPU/RAM."""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from tuitune.system.host import HostProbe, identify


def test_identify_live_and_missing_pid() -> None:
    me = identify(os.getpid())
    assert me is not None
    assert me.pid == os.getpid()
    assert me.create_time == pytest.approx(psutil.Process().create_time())
    assert identify(2**22 + 12345) is None  # above Linux's pid_max: never a process


def test_host_sample_is_sane() -> None:
    probe = HostProbe()
    sample = probe.sample()
    assert sample.ncpu == psutil.cpu_count()
    assert 0.0 <= sample.cpu_pct <= 100.0
    assert 0.0 < sample.ram_used_mb < sample.ram_total_mb
    assert 0.0 < sample.ram_pct < 100.0


def test_host_cpu_is_measured_across_threads() -> None:
    """A new thread per sample (Textual workers) must still see the CPU load."""
    probe = HostProbe()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn 0.3 s of CPU on one core
        pass
    results = []
    worker = threading.Thread(target=lambda: results.append(probe.sample()))
    worker.start()
    worker.join()
    assert results[0].cpu_pct > 0.0
