"""Ending a GPU process that no live trial owns (`tuitune gpu --end PID`): real
processes, a fake GPU source listing them, the real sampler's attribution."""

from __future__ import annotations

import subprocess
import sys

from tuitune.system import FakeGpuSource, SystemSampler, identify
from tuitune.system.gpu_procs import end_gpu_orphan


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_only_a_gpu_process_of_no_live_trial_is_ended():
    trial, orphan, bystander = _sleeper(), _sleeper(), _sleeper()
    gpus = FakeGpuSource(1)
    gpus.set_processes(0, {trial.pid: 1000.0, orphan.pid: 2000.0})
    sampler = SystemSampler(gpus)
    try:
        snap = sampler.sample({7: identify(trial.pid)})
        names = {7: "trial 7 of run r"}
        ended, said = end_gpu_orphan(trial.pid, snap, names)
        assert not ended and said.endswith("trial 7 of run r: kill the trial instead; "
                                           "nothing was signalled")
        ended, said = end_gpu_orphan(bystander.pid, snap, names)
        assert not ended and "not using a GPU" in said
        assert trial.poll() is None and bystander.poll() is None  # neither was signalled
        ended, said = end_gpu_orphan(orphan.pid, snap, names)
        assert ended and said == f"sent SIGTERM to pid {orphan.pid}"
        assert orphan.wait(timeout=10) == -15
    finally:
        sampler.close()
        for proc in (trial, orphan, bystander):
            proc.kill()
            proc.wait()


def test_cli_says_so_and_signals_nothing_without_a_gpu(tmp_path):
    victim = _sleeper()
    try:
        done = subprocess.run([sys.executable, "-m", "tuitune", "--root", str(tmp_path),
                               "gpu", "--end", str(victim.pid)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert done.stderr.strip().startswith("tuitune: ")
        assert "nothing was signalled" in done.stderr and len(done.stderr.splitlines()) == 1
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()
