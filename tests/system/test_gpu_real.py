"""On a real NVIDIA GPU: two trials on GPU 0, mapped through their trees.

Skipped unless NVML finds a readable GPU. Each trial is a small wrapper process
whose *child* allocates on the GPU, so the pid NVML reports is found only by
walking the trial's process tree. The trials use TensorFlow (the issue's case)
or PyTorch, each where it is importable: the mapping, the kill and the release
check are the same code whatever holds the memory.
"""

from __future__ import annotations

import importlib.util
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuitune.system.gpu import NvmlGpuSource
from tuitune.system.host import identify
from tuitune.system.sampler import SystemSampler
from tuitune.system.types import SystemSnapshot


def _gpu_skip_reason() -> str | None:
    src = NvmlGpuSource()
    try:
        readout = src.read()
    finally:
        src.close()
    if not readout.ok:
        return f"needs an NVIDIA GPU: {readout.status}"
    if readout.gpus[0].error is not None:
        return f"GPU 0 is unreadable: {readout.gpus[0].error}"
    return None


_SKIP = _gpu_skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]

TF_SCRIPT = """\
import os, sys, time
import tensorflow as tf
if not tf.config.list_physical_devices("GPU"):
    print("NOGPU", flush=True)
    sys.exit(3)
with tf.device("/GPU:0"):
    x = tf.random.uniform((2048, 2048))
    y = tf.matmul(x, x)
_ = y.numpy()  # forces the context and the allocation
print("READY", os.getpid(), flush=True)
time.sleep(600)
"""

TORCH_SCRIPT = """\
import os, sys, time
import torch
if not torch.cuda.is_available():
    print("NOGPU", flush=True)
    sys.exit(3)
x = torch.rand((2048, 2048), device="cuda:0")
y = x @ x
torch.cuda.synchronize()  # forces the context and the allocation
print("READY", os.getpid(), flush=True)
time.sleep(600)
"""

SCRIPTS = {"tensorflow": TF_SCRIPT, "torch": TORCH_SCRIPT}

WRAPPER = """\
import subprocess, sys
sys.exit(subprocess.call([sys.executable, sys.argv[1]]))
"""

START_TIMEOUT_S = 180.0  # a cold TensorFlow import plus CUDA init can be slow
RELEASE_TIMEOUT_S = 10.0


def _start_trial(tmp_path: Path, framework: str) -> subprocess.Popen[str]:
    tf_script, wrapper = tmp_path / f"{framework}_trial.py", tmp_path / "wrapper.py"
    tf_script.write_text(SCRIPTS[framework])
    wrapper.write_text(WRAPPER)
    env = dict(
        os.environ,
        TF_FORCE_GPU_ALLOW_GROWTH="true",
        CUDA_VISIBLE_DEVICES="0",
        CUDA_DEVICE_ORDER="PCI_BUS_ID",  # so CUDA's 0 is NVML's 0
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return subprocess.Popen(
        [sys.executable, str(wrapper), str(tf_script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )


def _wait_ready(popen: subprocess.Popen[str]) -> int:
    """Return the TensorFlow child's pid once it has allocated on the GPU."""
    assert popen.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(popen.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not sel.select(timeout=1.0):
            if popen.poll() is not None:
                raise AssertionError(f"trial exited early with {popen.returncode}")
            continue
        line = popen.stdout.readline()
        if line.startswith("NOGPU"):
            pytest.skip("the framework sees no GPU (a CPU-only build?)")
        if line.startswith("READY"):
            return int(line.split()[1])
        if line == "" and popen.poll() is not None:
            raise AssertionError(f"trial exited early with {popen.returncode}")
    raise AssertionError("the trial did not become ready")


def _kill(popen: subprocess.Popen[str]) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait(timeout=30)


def _gpu0_pids(snap: SystemSnapshot) -> set[int]:
    return {p.pid for p in snap.gpus[0].processes}


def _sample_until(sampler: SystemSampler, roots, done, timeout: float) -> SystemSnapshot:
    deadline = time.monotonic() + timeout
    snap = sampler.sample(roots)
    while not done(snap) and time.monotonic() < deadline:
        time.sleep(0.5)
        snap = sampler.sample(roots)
    return snap


@pytest.mark.parametrize("framework", ["tensorflow", "torch"])
def test_two_trials_are_mapped_and_memory_released(tmp_path: Path, framework: str) -> None:
    if importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed here")
    trials: dict[int, subprocess.Popen[str]] = {}
    sampler = SystemSampler(NvmlGpuSource())
    try:
        for trial_id in (1, 2):
            trials[trial_id] = _start_trial(tmp_path, framework)
        tf_pid = {trial_id: _wait_ready(p) for trial_id, p in trials.items()}
        roots = {trial_id: identify(p.pid) for trial_id, p in trials.items()}
        assert all(roots.values()), "a trial root exited"

        snap = _sample_until(
            sampler, roots, lambda s: set(tf_pid.values()) <= _gpu0_pids(s), timeout=30.0
        )
        if not set(tf_pid.values()) <= _gpu0_pids(snap) and _gpu0_pids(snap):
            pytest.skip("NVML lists other pids: a container without --pid=host?")
        assert set(tf_pid.values()) <= _gpu0_pids(snap)
        for trial_id in (1, 2):
            usage = snap.trials[trial_id]
            assert snap.gpu_owners[tf_pid[trial_id]] == trial_id
            assert usage.gpu_ids == (0,)
            assert tf_pid[trial_id] in usage.pids and trials[trial_id].pid in usage.pids
            on_gpu = [p for p in snap.gpus[0].processes if p.pid == tf_pid[trial_id]][0]
            if on_gpu.used_memory_mb is not None:  # None under MIG
                assert usage.gpu_mem_mb is not None and usage.gpu_mem_mb > 0
        assert all(p.pid not in tf_pid.values() for _, p in snap.orphans)

        _kill(trials[1])
        snap = _sample_until(
            sampler, roots, lambda s: tf_pid[1] not in _gpu0_pids(s), timeout=RELEASE_TIMEOUT_S
        )
        assert tf_pid[1] not in _gpu0_pids(snap), "killed trial still holds GPU memory"
        assert snap.trials[1].pids == ()
        assert snap.trials[1].gpu_ids == ()
        assert snap.trials[2].gpu_ids == (0,)
        assert snap.gpu_owners[tf_pid[2]] == 2
    finally:
        for popen in trials.values():
            _kill(popen)
        sampler.close()
