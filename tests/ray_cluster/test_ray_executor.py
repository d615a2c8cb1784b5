"""The Ray executor on a real two-node Ray cluster on this machine.

A head node (custom resource `head`) and a second node started with
`ray start --address` (custom resource `node2`, so trials can be pinned to it),
both inside a private network namespace with only loopback. Real supervisor
processes (`tuitune run --headless`), real trials, steered from a second shell
with the CLI, as a user would. The cluster starts once for the module; the last
test kills the second node.

    python -m pytest tests/ray_cluster -q -m ray
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.extras import NO_RAY

pytest.importorskip("ray", reason=NO_RAY)

from raycluster import ClusterUnavailable, LocalRayCluster  # noqa: E402

from tests.support.processes import cli, kill_supervisor  # noqa: E402
from tests.support.specs import write_spec as engine_spec  # noqa: E402
from tests.support.store_reads import read, trial  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402
from tuitune.core.spec import load_spec  # noqa: E402
from tuitune.ui.node_feed import NodeFeed  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]

@pytest.fixture(scope="module")
def cluster():
    try:
        c = LocalRayCluster()
        c.start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Ray cluster: {exc}")
    try:
        yield c
    finally:
        c.close()


# -- helpers -------------------------------------------------------------------------------------
def write_spec(folder: Path, cluster: LocalRayCluster, executor: str, steps: int = 400,
               name: str = "r") -> Path:
    """The engine tests' spec and trial script, run on the cluster."""
    return engine_spec(folder, name=name, steps=steps, sleep=0.05,
                       extra=f'\n[executor]\nkind = "ray"\naddress = "{cluster.address}"\n'
                             f"{executor}\n")


def points(run_dir: Path, tid: int, name: str = "loss"):
    return read(run_dir, lambda s: s.metrics(trial_id=tid, name=name))


class Headless:
    """`tuitune run SPEC --headless` in the background; stopped at the end."""

    def __init__(self, spec: Path, home: Path, *extra: str) -> None:
        self.out = open(home.parent / f"supervisor-{spec.stem}.out", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(spec),
                                      "--headless", *extra], stdout=self.out,
                                     stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
        runs = home / "runs"

        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            found = next((p for p in runs.iterdir() if (p / "store.db").exists()), None) if (
                runs.exists()) else None
            time.sleep(0.1)
        assert found is not None, "no run folder after 30s"
        self.run_dir: Path = found
        wait_for(lambda: read(self.run_dir, lambda s: s.meta().get("supervisor_pid")), 60,
                 "the supervisor")

    def output(self) -> str:
        self.out.flush()
        return Path(self.out.name).read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Kill what still runs first, so the supervisor hands every actor back.
            live = [str(t.id) for t in read(self.run_dir, lambda s: s.trials())
                    if t.state in ("running", "paused", "queued")]
            if live:
                cli("kill", str(self.run_dir), *live)
                try:
                    wait_for(lambda: not [t for t in read(self.run_dir, lambda s: s.trials())
                                          if t.state in ("running", "paused")], 30, "kills")
                except AssertionError:
                    pass
            cli("stop", str(self.run_dir))
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.out.close()
        for proc in run_processes(self.run_dir):  # hygiene: whatever a failed test left
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


def run_processes(run_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("TUITUNE_RUN_DIR") == str(run_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def trial_processes(run_dir: Path, tid: int) -> list[psutil.Process]:
    """Processes of a trial, wherever they run on this machine: by their environment."""
    found = []
    for proc in run_processes(run_dir):
        try:
            if proc.environ().get("TUITUNE_TRIAL_ID") == str(tid):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


# -- tests ---------------------------------------------------------------------------------------
def test_metrics_tweak_pause_clone_kill_on_node2(cluster, tt_home, tmp_path):
    node2 = cluster.node_id("node2")
    # Long enough to outlast the CLI calls on a loaded machine (it is killed at the end):
    # 400 steps (20 s) ended before the tweak twice at a load of 20 on 2 cores.
    spec = write_spec(tmp_path / "exp", cluster, 'resources = {node2 = 0.01}\nnum_cpus = 0.25',
                      steps=4000)
    run = Headless(spec, tt_home)
    try:
        r = str(run.run_dir)
        out = cli("new", r, "lr=0.01")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: len(points(run.run_dir, 1)) >= 3, 60, "metrics from node2")
        t1 = trial(run.run_dir, 1)
        assert t1.state == "running" and t1.node.endswith(node2[:6]), t1.node
        assert t1.api_seen
        # The trial's output comes back too (the TUI's log pane and stdout metrics).
        wait_for(lambda: "step 2" in (run.run_dir / "trials/1/log.txt").read_text(), 10, "log")

        # Tweak: reports after the step it took effect carry the new value.
        assert cli("tweak", r, "1", "lr=0.5").returncode == 0
        change = wait_for(lambda: [c for c in read(run.run_dir, lambda s: s.param_changes(1))
                                   if c.applied_step], 20, "tweak applied")[0]
        wait_for(lambda: any(p.step > change.applied_step
                             for p in points(run.run_dir, 1, "lr")), 20, "reports after it")
        lrs = {p.step: p.value for p in points(run.run_dir, 1, "lr")}
        assert lrs[change.applied_step] == 0.5
        assert all(v == 0.01 for s, v in lrs.items() if s < change.applied_step)

        # Pause stops the whole process group on the node; resume continues it.
        assert cli("pause", r, "1").returncode == 0
        procs = wait_for(lambda: trial_processes(run.run_dir, 1), 10, "trial processes")
        wait_for(lambda: all(p.status() == psutil.STATUS_STOPPED for p in procs), 10, "stopped")
        n = len(points(run.run_dir, 1))
        time.sleep(1.0)
        assert len(points(run.run_dir, 1)) <= n + 2  # at most a batch in flight
        assert cli("unpause", r, "1").returncode == 0
        wait_for(lambda: len(points(run.run_dir, 1)) > n + 3, 20, "reports after resume")

        # Clone from the latest checkpoint: the new trial continues from it.
        ckpt_step = wait_for(lambda: trial(run.run_dir, 1).checkpoint_step, 20, "a checkpoint")
        out = cli("clone", r, "1", "--from-checkpoint")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: "resumed from" in (run.run_dir / "trials/2/log.txt").read_text(), 40,
                 "the clone resuming")
        first = wait_for(lambda: points(run.run_dir, 2), 20, "clone metrics")[0]
        assert first.step > ckpt_step
        assert trial(run.run_dir, 2).node.endswith(node2[:6])

        # Kill: the whole tree on the node ends, nothing is left behind.
        procs = trial_processes(run.run_dir, 1) + trial_processes(run.run_dir, 2)
        assert len(procs) >= 4  # launcher + script of each
        assert cli("kill", r, "1", "2").returncode == 0
        for tid in (1, 2):
            wait_for(lambda tid=tid: trial(run.run_dir, tid).state == "killed", 30, "killed")
        gone, alive = psutil.wait_procs(procs, timeout=10)
        assert not alive, alive
        assert not trial_processes(run.run_dir, 1) and not trial_processes(run.run_dir, 2)
    finally:
        run.stop()


def test_clone_from_checkpoint_runs_on_the_other_node(cluster, tt_home, tmp_path):
    # Each trial takes a whole node's CPUs: the clone must go to the other node,
    # and its checkpoint is moved there through Ray.
    spec = write_spec(tmp_path / "x", cluster, "num_cpus = 2")
    run = Headless(spec, tt_home)
    try:
        r = str(run.run_dir)
        assert cli("new", r, "lr=0.02").returncode == 0
        wait_for(lambda: (trial(run.run_dir, 1).checkpoint_step or 0) >= 3, 60, "a checkpoint")
        assert cli("clone", r, "1", "--from-checkpoint", "--set", "lr=0.2").returncode == 0
        log = run.run_dir / "trials/2/log.txt"
        wait_for(lambda: "resumed from" in log.read_text(), 60, "the clone resuming")
        resumed = int(log.read_text().split("resumed from")[1].split()[0])
        t1, t2 = trial(run.run_dir, 1), trial(run.run_dir, 2)
        assert t1.node != t2.node
        # The script overwrites one checkpoint file every step: the copy may be a
        # step or two newer than the step recorded for it, never older.
        assert resumed >= t2.clone_step >= 3
        assert wait_for(lambda: points(run.run_dir, 2), 20, "metrics")[0].step == (
            t2.clone_step + 1)
    finally:
        run.stop()


def _results(run_dir: Path) -> dict[int, tuple]:
    def get(store):
        out = {}
        for t in store.trials():
            curve = store.curve(t.id, "val_loss")
            out[t.id] = (t.state, json.dumps(t.params, sort_keys=True), len(curve),
                         curve[-1][1] if curve else None)
        return out
    return read(run_dir, get)


QUICKSTART = REPO / "sample_specs" / "quickstart.toml"
#: The sample's own budget (it grew from 8 to 12 trials so that insight has enough).
QUICKSTART_TRIALS = load_spec(QUICKSTART).budget.max_trials


def _headless_quickstart(home: Path, *extra: str) -> subprocess.Popen[str]:
    """`tuitune run quickstart.toml --headless [EXTRA]`, started in the background."""
    env = {**os.environ, "TUITUNE_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "tuitune", "run", str(QUICKSTART),
                             "--headless", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _finished_run(proc: subprocess.Popen[str], home: Path) -> Path:
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out[-3000:]
    (run_dir,) = [p for p in (home / "runs").iterdir() if (p / "store.db").exists()]
    return run_dir


def _same_results(local: dict, remote: dict) -> None:
    assert local.keys() == remote.keys() and len(local) == QUICKSTART_TRIALS
    for tid in local:
        state, params, n, last = local[tid]
        assert remote[tid][:3] == (state, params, n), (tid, local[tid], remote[tid])
        assert math.isclose(remote[tid][3], last, rel_tol=1e-6, abs_tol=1e-9), tid


def _ran_on_ray(run_dir: Path) -> None:
    nodes = read(run_dir, lambda s: {t.node for t in s.trials()})
    assert all(n and n not in ("local", "pending") for n in nodes), nodes
    assert read(run_dir, lambda s: s.meta().get("ray_nodes"))


async def test_quickstart_headless_and_in_the_tui_give_the_same_results_as_local(
        cluster, tmp_path):
    """The acceptance run: sample_specs/quickstart.toml on the two-node cluster, headless
    (`tuitune run --headless --ray ADDRESS`) and as `tuitune run --ray ADDRESS` does it
    (a detached supervisor, the TUI attached until the experiment is over), against a
    local run. The three run at once."""
    from tuitune.engine.runs import create_run, spawn_supervisor, wait_for_supervisor
    from tuitune.system import FakeGpuSource
    from tuitune.ui.factory import build_app
    from tuitune.ui.widgets.system_panel import SystemPanel

    local = _headless_quickstart(tmp_path / "local")
    headless = _headless_quickstart(tmp_path / "headless", "--ray", cluster.address)
    try:
        spec = load_spec(QUICKSTART).with_executor("ray", address=cluster.address)
        tui_run = create_run(spec, tmp_path / "tui" / "runs")
        assert wait_for_supervisor(tui_run, spawn_supervisor(tui_run), timeout=60)
        app = build_app(tui_run, gpu_source=FakeGpuSource(0), poll_interval=0.2,
                        system_interval=0.5)
        async with app.run_test(size=(140, 40)) as pilot:
            deadline = time.monotonic() + 200
            while time.monotonic() < deadline and read(
                    tui_run, lambda s: s.meta().get("state")) != "finished":
                await pilot.pause(0.2)
            assert read(tui_run, lambda s: s.meta().get("state")) == "finished"
            await pilot.pause(0.5)
            # Every trial on screen.
            assert sorted(app.screen.table.order) == list(range(1, QUICKSTART_TRIALS + 1))
            # The system panel shows both nodes of the cluster, each with its host.
            labels = {n.label for n in app.view.nodes.nodes}
            assert len(labels) == 2 and all(n.host for n in app.view.nodes.nodes)
            panel = "\n".join(app.screen.query_one(SystemPanel).lines_text())
            assert all(label in panel for label in labels), panel
        local_run = _finished_run(local, tmp_path / "local")
        headless_run = _finished_run(headless, tmp_path / "headless")
        # Finished runs leave no trial actor behind holding a node's CPUs.
        wait_for(cluster.idle_cpus, 30, "every trial actor released")
    finally:
        for proc in (local, headless):
            if proc.poll() is None:
                proc.kill()
    expected = _results(local_run)
    for run_dir in (headless_run, tui_run):
        _ran_on_ray(run_dir)
        _same_results(expected, _results(run_dir))


def test_a_restarted_supervisor_adopts_remote_trials(cluster, tt_home, tmp_path):
    """The trial actors are detached: a supervisor killed outright leaves its trials
    running and buffering on their node; `tuitune resume` adopts them and collects
    what they reported meanwhile, each point once."""
    spec = write_spec(tmp_path / "a", cluster, 'resources = {node2 = 0.01}\nnum_cpus = 0.25',
                      steps=2000)
    run = Headless(spec, tt_home)
    try:
        r = str(run.run_dir)
        assert cli("new", r, "lr=0.05").returncode == 0
        wait_for(lambda: len(points(run.run_dir, 1)) >= 5, 60, "metrics")
        pid = trial(run.run_dir, 1).pid
        kill_supervisor(run.run_dir)  # the supervisor dies; the trial goes on
        run.proc.wait(timeout=30)
        time.sleep(2.0)
        before = len(points(run.run_dir, 1))
        out = cli("resume", r)
        assert out.returncode == 0, out.stdout + out.stderr
        messages = lambda: [e.message for e in read(run.run_dir, lambda s: s.events())]  # noqa
        wait_for(lambda: any("trial 1 adopted" in m for m in messages()), 30, "adoption")
        wait_for(lambda: len(points(run.run_dir, 1)) > before + 20, 30, "reports again")
        t1 = trial(run.run_dir, 1)
        assert t1.state == "running" and t1.pid == pid
        steps = [p.step for p in points(run.run_dir, 1)]
        assert len(steps) == len(set(steps))  # nothing stored twice
        assert sorted(steps) == list(range(1, max(steps) + 1))  # nothing lost
        assert cli("kill", r, "1").returncode == 0
        wait_for(lambda: trial(run.run_dir, 1).state == "killed", 30, "killed")
        assert not trial_processes(run.run_dir, 1)
    finally:
        cli("stop", str(run.run_dir))
        run.stop()


def _sampled_nodes(run_dir: Path) -> list[dict]:
    """The nodes in the store's `ray_nodes` that have a GPU/host sample."""
    return [n for n in read(run_dir, lambda s: s.meta().get("ray_nodes")) or []
            if n.get("host") and n.get("seen")]


def test_node_death_marks_its_trials_lost_with_their_metrics(cluster, tt_home, tmp_path):
    """Runs last: it kills the second node."""
    spec = write_spec(tmp_path / "d", cluster,
                      'resources = {node2 = 0.01}\nnum_cpus = 0.25\nstart_timeout = 30',
                      steps=2000)
    run = Headless(spec, tt_home)
    try:
        r = str(run.run_dir)
        for lr in ("0.01", "0.02"):
            assert cli("new", r, f"lr={lr}").returncode == 0
        for tid in (1, 2):
            wait_for(lambda tid=tid: (trial(run.run_dir, tid).checkpoint_step or 0) >= 3, 60,
                     f"trial {tid} reporting")
        procs = [p for tid in (1, 2) for p in trial_processes(run.run_dir, tid)]
        assert procs
        wait_for(lambda: len(_sampled_nodes(run.run_dir)) == 2, 30, "both nodes sampled")

        cluster.kill_node2()
        for tid in (1, 2):
            wait_for(lambda tid=tid: trial(run.run_dir, tid).state == "lost", 60,
                     f"trial {tid} lost")
            assert len(points(run.run_dir, tid)) >= 3  # what it reported is kept
        messages = [e.message for e in read(run.run_dir, lambda s: s.events())]
        assert any("trial 1 lost" in m for m in messages), messages
        # The system panel's data: node2 is shown lost, with its last sample kept.
        def node_states() -> list[str]:
            feed = NodeFeed(run.run_dir)
            try:
                nodes = feed.read()
            finally:
                feed.close()
            assert all(n.host is not None and n.gpu_status for n in nodes.nodes)
            return sorted(nodes.state(n).word for n in nodes.nodes)
        wait_for(lambda: node_states() == ["current", "lost"], 30, "node2 shown lost")
        assert not [p for p in procs if p.is_running()]

        # Re-queued from their last checkpoints (they wait for a node with `node2`).
        out = cli("requeue", r, "--lost")
        assert out.returncode == 0, out.stderr
        requeued = wait_for(lambda: [t for t in read(run.run_dir, lambda s: s.trials())
                                     if t.origin == "requeue"], 20, "requeued trials")
        assert {t.parent_id for t in requeued} == {1, 2}
        assert all(t.from_checkpoint and t.initial_checkpoint for t in requeued)
    finally:
        run.stop()
