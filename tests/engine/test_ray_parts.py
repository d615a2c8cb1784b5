"""The Ray executor's parts that need no cluster: a remote trial's state machine, and
the node record the executor writes and the TUI reads (one declaration, both sides).
The executor itself runs on a real two-node cluster in tests/ray_cluster."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import pytest

from tuitune.executors.base import Exit, LaunchRequest, TrialHandle
from tuitune.executors.ray_placement import environment, fits
from tuitune.executors.ray_sampling import ClusterNodes
from tuitune.executors.ray_trial import TRANSITIONS, IllegalTransition, Phase, RemoteTrial
from tuitune.store import RunStore
from tuitune.system import GpuSample, HostSample
from tuitune.system.nodes import NODES_KEY, NodeRecord, nodes_from_meta
from tuitune.ui.node_feed import NodeFeed


def waiting() -> RemoteTrial:
    return RemoteTrial(actor=object(), handle=TrialHandle(7, 0, 0.0, "pending"),
                       trial_dir=Path("/nonexistent"), starting="start-ref")


def running() -> RemoteTrial:
    st = waiting()
    st.placed(TrialHandle(7, 123, 45.6, "node-a"), "nid-a")
    return st


# -- the state machine ----------------------------------------------------------------------
def test_a_trial_placed_runs_exits_and_ends_when_its_tree_is_gone():
    st = waiting()
    assert st.phase is Phase.WAITING and st.tree_alive and st.takes_control()
    assert not st.may_pull(now=0.0) and st.outcome() is None
    st.placed(TrialHandle(7, 123, 45.6, "node-a"), "nid-a")
    assert (st.phase, st.starting, st.node_id, st.handle.pid) == (
        Phase.RUNNING, None, "nid-a", 123)
    assert st.may_pull(now=0.0) and st.outcome() is None
    st.reported(None, tree_alive=True)
    assert st.phase is Phase.RUNNING
    st.reported((0, None), tree_alive=True)  # the trainer exited; a child lingers
    assert st.phase is Phase.EXITING and st.outcome() == Exit(0)
    assert st.tree_alive and st.may_pull(now=0.0) and not st.takes_control()
    st.reported(None, tree_alive=False)  # the exit is remembered
    assert st.phase is Phase.ENDED and st.outcome() == Exit(0)
    assert not st.tree_alive and not st.may_pull(now=0.0) and st.has_actor


def test_a_pull_waits_for_the_one_under_way_and_for_its_retry_time():
    st = running()
    st.relay.pending = "pull-ref"
    assert not st.may_pull(now=0.0)
    st.relay.pending, st.relay.retry_at = None, 10.0
    assert not st.may_pull(now=9.9) and st.may_pull(now=10.0)


def test_a_trial_that_never_ran_has_no_actor_to_talk_to():
    st = waiting()
    st.never_ran(127, None, "no node")
    assert st.phase is Phase.NEVER_RAN and st.outcome() == Exit(127)
    assert not st.has_actor and not st.tree_alive and st.start_error == "no node"
    killed = waiting()
    killed.never_ran(None, signal.SIGKILL)
    assert killed.outcome() == Exit(None, signal.SIGKILL)


def test_a_lost_trial_stays_lost_whatever_its_node_said_before():
    st = running()
    st.lose("node node-a died")
    assert st.outcome() == Exit(None, lost=True) and not st.has_actor
    st.reported((0, None), tree_alive=False)  # a pull answered before the loss
    assert st.phase is Phase.LOST and st.lost_why == "node node-a died"
    st.lose("again")
    assert st.lost_why == "node node-a died"


@pytest.mark.parametrize("phase", list(Phase))
def test_only_the_declared_transitions_happen(phase):
    moves = {
        Phase.RUNNING: lambda st: st.placed(TrialHandle(7, 1, 1.0, "n"), "nid"),
        Phase.NEVER_RAN: lambda st: st.never_ran(127, None),
        Phase.EXITING: lambda st: st.reported((0, None), tree_alive=True),
        Phase.ENDED: lambda st: st.reported((0, None), tree_alive=False),
        Phase.LOST: lambda st: st.lose("gone"),
    }
    for target, move in moves.items():
        st = waiting()
        st.phase = phase
        if target in TRANSITIONS[phase]:
            move(st)
            assert st.phase is target
        elif target in (Phase.EXITING, Phase.ENDED, Phase.LOST) and phase in (
                target, Phase.LOST):  # a report or a loss that changes nothing
            move(st)
            assert st.phase is phase
        else:
            with pytest.raises(IllegalTransition):
                move(st)


# -- placement --------------------------------------------------------------------------------
def test_a_trial_fits_where_free_resources_cover_what_it_asks():
    asks = {"CPU": 1.0, "GPU": 0.0, "node2": 0.01}
    assert fits(asks, {"CPU": 2.0, "node2": 1.0})
    assert not fits(asks, {"CPU": 2.0}) and not fits(asks, {"CPU": 0.5, "node2": 1.0})


def test_the_node_gets_what_the_engine_added_and_no_store_or_gpus():
    here = {"PATH": "/bin", "HOME": "/root", "GONE": "x"}
    env = {"PATH": "/bin", "HOME": "/root", "TUITUNE_TRIAL_ID": "3", "TUITUNE_STORE": "/s.db",
           "CUDA_VISIBLE_DEVICES": "0", "SPEC_VAR": "1"}
    request = LaunchRequest(3, ("python",), Path("/"), env, Path("/t"), Path("/t/log.txt"))
    overlay, drop = environment(request, here)
    assert overlay == {"TUITUNE_TRIAL_ID": "3", "SPEC_VAR": "1"}
    assert drop == ["TUITUNE_STORE", "GONE"]


# -- the node record: written by the executor, read by the TUI ---------------------------------
GPU = {"index": 0, "uuid": "GPU-0", "name": "H100", "util_pct": 91.0, "mem_used_mb": 40_000.0,
       "mem_total_mb": 81_920.0, "temp_c": 70.0, "power_w": 500.0, "power_limit_w": 700.0,
       "error": None}
HOST = {"cpu_pct": 55.0, "ncpu": 32, "ram_used_mb": 1000.0, "ram_total_mb": 4000.0}


class FakeRay:
    """Ray's node table and the samples that came back, as `ray.nodes()`/`ray.get`."""

    def __init__(self, table: list[dict], answers: dict[str, dict]) -> None:
        self.table, self.answers = table, answers

    def nodes(self) -> list[dict]:
        return self.table

    def get(self, ref: str, timeout: float = 0) -> dict:
        return self.answers[ref]


def test_what_the_executor_writes_the_tui_reads_as_the_same_records(tmp_path):
    table = [{"NodeID": "aa" * 8, "NodeManagerAddress": "10.0.0.1", "Alive": True,
              "Resources": {"CPU": 8.0, "GPU": 1.0}},
             {"NodeID": "bb" * 8, "NodeManagerAddress": "10.0.0.2", "Alive": False,
              "Resources": {"CPU": 4.0}}]
    sample = {"node": "10.0.0.1#aaaaaa", "node_id": "aa" * 8, "t": 99.0, "gpu_status": "ok",
              "gpus": [GPU], "host": HOST,
              "trials": {3: {"cpu_pct": 10.0, "rss_mb": 5.0, "gpu_ids": [0],
                             "gpu_mem_mb": 1234.0}}}
    cluster = ClusterNodes(FakeRay(table, {"ref-a": sample}), agent_cls=None)
    assert cluster.refresh(now=0.0, force=True)
    assert cluster.died("bb" * 8) and not cluster.died("aa" * 8)
    cluster._refs = {"ref-a": "aa" * 8}  # a sample asked of node aa, now answered
    store = RunStore(tmp_path, create=True)
    try:
        store.create_trial({}, "manual", "test")
        cluster.collect({"ref-a"}, store, live=[1, 3])
        cluster.write(store, {"aa" * 8: [3, 1]})
        written = cluster.records({"aa" * 8: [3, 1]})
        assert store.trial(1).peak_gpu_mem_mb is None  # trial 3 has no record: not stored
    finally:
        store.close()
    feed = NodeFeed(tmp_path)
    try:
        view = feed.read()
    finally:
        feed.close()
    assert view is not None
    read = {n.node_id: n for n in view.nodes}
    assert read == {n.node_id: n for n in written}
    a, b = read["aa" * 8], read["bb" * 8]
    assert (a.label, a.ip, a.alive, a.trials, a.t) == ("10.0.0.1#aaaaaa", "10.0.0.1", True,
                                                       (1, 3), 99.0)
    assert a.gpus == (GpuSample(0, "GPU-0", "H100", 91.0, 40_000.0, 81_920.0, 70.0, 500.0,
                                700.0),)
    assert a.host == HostSample(55.0, 32, 1000.0, 4000.0) and a.seen is not None
    assert (b.label, b.alive, b.gpu_status, b.gpus, b.host, b.seen) == (
        "10.0.0.2#bbbbbb", False, None, (), None, None)
    assert dict(a.resources) == {"CPU": 8.0, "GPU": 1.0}


def test_a_record_survives_its_round_trip_and_bad_values_are_only_unknown():
    record = NodeRecord("n1", "host#n1", True, "ok", (GpuSample(0, "u", "g", 50.0),),
                        HostSample(1.0, 2, 3.0, 4.0), 12.5, (2, 4), "10.0.0.9",
                        {"CPU": 2.0}, 11.0)
    assert NodeRecord.from_dict(record.to_dict()) == record
    odd = {**record.to_dict(), "seen": "soon", "host": {"cpu_pct": "x", "ncpu": 2},
           "trials": [1, "x", None], "future_field": 1}
    read = NodeRecord.from_dict(odd)
    assert read.seen is None and read.trials == (1,) and math.isnan(read.host.cpu_pct)
    assert nodes_from_meta([record.to_dict(), "junk", {"gpus": [{"no": "index"}]}]) == (
        record,)
    assert NODES_KEY == "ray_nodes"
