"""`tuitune gpu --once [--json]` and the text/JSON views of a snapshot."""

from __future__ import annotations

import json
import math

import pytest

from tuitune.system.fake import FakeGpuSource
from tuitune.system.host import identify
from tuitune.system.report import build_parser, format_text, main, to_json
from tuitune.system.sampler import SystemSampler


def _no_gpu_here() -> bool:
    from tuitune.system.gpu import NvmlGpuSource

    src = NvmlGpuSource()
    try:
        return not src.read().ok
    finally:
        src.close()


needs_no_gpu = pytest.mark.skipif(not _no_gpu_here(), reason="this machine has an NVIDIA GPU")


@needs_no_gpu
def test_once_text_without_gpu_exits_zero(capsys) -> None:
    assert main(["--once"]) == 0
    out = capsys.readouterr().out
    assert out.count("no NVIDIA GPU (") == 1
    assert "NVML library not found" in out or "driver" in out
    host = [line for line in out.splitlines() if line.startswith("host")]
    assert len(host) == 1 and "cores" in host[0] and "ram" in host[0]


@needs_no_gpu
def test_once_json_without_gpu_exits_zero(capsys) -> None:
    assert main(["--once", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gpus"] == []
    assert data["gpu_status"].startswith("no NVIDIA GPU (")
    assert data["host"]["ram_total_mb"] > 0
    assert data["host"]["ncpu"] >= 1
    assert data["trials"] == {} and data["orphans"] == []


def test_without_once_points_to_the_tui(capsys) -> None:
    assert main([]) == 2
    assert "full-screen monitor is opened by the TUI" in capsys.readouterr().err


def test_parser_is_reusable() -> None:
    parser = build_parser()
    assert parser.prog == "tuitune gpu"
    args = parser.parse_args(["--once", "--json"])
    assert args.once and args.json


def test_once_with_fake_gpus_lists_gpus_processes_and_lost_gpu(capsys) -> None:
    src = FakeGpuSource(2, name="Fake A100")
    src.set_processes(0, {4242: 1536.0})
    src.lose(1)
    assert main(["--once"], gpu_source=src) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("GPU 0  Fake A100")
    assert "mem 1.5/16.0 GB (9%)" in lines[0]
    assert lines[1].split() == ["pid", "4242", "1.5", "GB", "not", "a", "trial"]
    assert lines[2].startswith("GPU 1") and "((GPU is lost))" in lines[2]
    assert lines[3].startswith("host")
    assert src.closed


def test_text_shows_trials_and_mig_unknowns(spawn_tree) -> None:
    tree = spawn_tree(1)
    src = FakeGpuSource(1, mig=True)
    src.set_processes(0, {tree.leaf_pid: 800.0})
    snap = SystemSampler(src).sample({12: identify(tree.root.pid)})
    text = format_text(snap)
    assert "util n/a" in text
    assert f"pid {tree.leaf_pid}" in text and "trial 12" in text
    trial_line = [line for line in text.splitlines() if line.startswith("trial 12")][0]
    assert "2 procs" in trial_line and "gpus 0" in trial_line and "gpu mem n/a" in trial_line


def test_json_uses_null_for_unavailable_and_is_serializable(spawn_tree) -> None:
    tree = spawn_tree(0)
    src = FakeGpuSource(2, mig=True)
    src.set_processes(1, {tree.root.pid: 700.0, 999999: 5.0})
    snap = SystemSampler(src, clock=lambda: 12.5).sample({3: identify(tree.root.pid)})
    data = json.loads(json.dumps(to_json(snap)))
    assert data["t"] == 12.5
    assert data["gpus"][0]["util_pct"] is None
    stranger = [p for p in data["gpus"][1]["processes"] if p["pid"] == 999999]
    assert stranger == [
        {
            "pid": 999999,
            "used_memory_mb": None,
            "sm_util": None,
        }
    ]
    assert data["trials"]["3"]["gpu_ids"] == [1]
    assert data["trials"]["3"]["gpu_mem_mb"] is None
    assert data["orphans"] == [{"gpu": 1, "pid": 999999, "used_memory_mb": None, "sm_util": None}]
    assert data["gpu_owners"] == {str(tree.root.pid): 3}
    assert not math.isnan(data["host"]["ram_pct"])
