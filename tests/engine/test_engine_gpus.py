"""GPU scheduling in the supervisor, with the fake NVML source (no GPU here). The
placement tests run fake trials (tuitune/executors/fake.py) that print the
environment they were given; the peak-memory test needs a real process tree."""

from __future__ import annotations

import json

from tests.support.fake_runs import FakeTrial, fake_run, hang
from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, trial_dir
from tuitune.engine.supervisor import Supervisor
from tuitune.system import FakeGpuSource

ENV_SCRIPT = """
import json, os, time
import tuitune.in_trial.trial as tt
print("ENV", json.dumps({k: os.environ.get(k) for k in
      ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TF_FORCE_GPU_ALLOW_GROWTH")}), flush=True)
for s in range(1, 200):
    tt.report(s, loss=1.0)
    time.sleep(0.05)
"""


def _start(tmp_path, tt_home, gpu_source, resources):
    spec = write_spec(tmp_path / "exp", script=ENV_SCRIPT, concurrent=8, extra=resources)
    run_dir = create_run(load_spec(spec), tt_home / "runs")
    sup = Supervisor(run_dir, gpu_source=gpu_source)
    sup.register()
    return run_dir, sup


def env_printer(t: FakeTrial):
    """ENV_SCRIPT for a fake trial: prints the GPU variables its launch carries."""
    t.print("ENV", json.dumps({k: t.env.get(k) for k in
                               ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
                                "TF_FORCE_GPU_ALLOW_GROWTH")}))
    yield from hang()(t)


def _fake_start(tmp_path, gpu_source, resources):
    return fake_run(tmp_path, env_printer, gpu_source=gpu_source, concurrent=8,
                    extra=resources)


def _env_of(run_dir, tid):
    log = (trial_dir(run_dir, tid) / "log.txt").read_text()
    return json.loads(log.split("ENV ", 1)[1].splitlines()[0])


def test_fractional_gpus_pack_two_trials_per_gpu_and_the_rest_wait(tmp_path):
    run = _fake_start(tmp_path, FakeGpuSource(2), "\n[resources]\ngpus_per_trial = 0.5\n")
    run_dir, sup = run.run_dir, run.sup
    try:
        for _ in range(5):
            sup.store.enqueue_command("new", {"params": sup.spec.space.defaults()}, "user")
        run.until(lambda: len(sup.handles) == 4, "4 trials running")
        run.tick(10)
        assert len(sup.handles) == 4  # the fifth waits: both GPUs hold two half-GPU trials
        gpus = sorted(sup.store.trial(t).gpus for t in sup.handles)
        assert gpus == ["0", "0", "1", "1"]
        waits = [e.message for e in sup.store.events() if e.kind == "waiting"]
        assert waits and "trial 5 waits" in waits[0]
        env = _env_of(run_dir, 1)  # trial 1 printed its env
        assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        assert env["CUDA_VISIBLE_DEVICES"] in ("0", "1")
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    finally:
        run.finish()


def test_peak_memory_is_recorded_and_release_is_checked_after_kill(tmp_path, tt_home):
    fake = FakeGpuSource(1, mem_total_mb=16000)
    run_dir, sup = _start(tmp_path, tt_home, fake, "\n[resources]\ngpus_per_trial = 1\n")
    try:
        sup.store.enqueue_command("new", {"params": sup.spec.space.defaults()}, "user")
        wait_for(lambda: (sup.tick(), 1 in sup.handles)[1], what="trial running")
        pid = sup.handles[1].pid
        fake.set_processes(0, {pid: 1234.0})
        sup.placement.sample_now()
        wait_for(lambda: (sup.tick(), (sup.store.trial(1).peak_gpu_mem_mb or 0) > 0)[1],
                 what="peak recorded")
        assert sup.store.trial(1).peak_gpu_mem_mb == 1234.0
        sup.store.enqueue_command("kill", {"trial_id": 1}, "user")
        wait_for(lambda: (sup.tick(), sup.store.trial(1).state == "killed")[1], what="killed")
        fake.set_processes(0, {})
        sup.placement.sample_now()
        sup.tick()  # no trial left: the scheduler still samples for the release check
        kinds = [e.kind for e in sup.store.events(trial_id=1)]
        assert "gpu_released" in kinds
    finally:
        sup.close()


def test_no_gpu_machine_runs_trials_without_one(tmp_path):
    run = _fake_start(tmp_path, FakeGpuSource(0), "\n[resources]\ngpus_per_trial = 1\n")
    sup = run.sup
    try:
        sup.store.enqueue_command("new", {"params": sup.spec.space.defaults()}, "user")
        run.until(lambda: 1 in sup.handles, "trial running")
        assert any(e.kind == "no_gpu" for e in sup.store.events())
        env = run.until(lambda: _env_of(run.run_dir, 1), "env")
        assert env["CUDA_VISIBLE_DEVICES"] == ""
    finally:
        run.finish()
