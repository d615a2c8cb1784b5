"""A run on a (pretend) Ray cluster for the TUI tests: a fixed run whose stored spec
names the Ray executor and whose store holds the nodes as the supervisor writes
them (meta key `ray_nodes`). No Ray process runs; the spec needs Ray importable."""

from __future__ import annotations

from pathlib import Path

from ui_helpers import FIXED_NOW, build_fixed_run

from tuitune.core.spec import load_spec_json
from tuitune.store import RunStore


def _gpu(index: int, util: float, used: float, temp: float, power: float) -> dict:
    return {"index": index, "uuid": f"GPU-{index}", "name": "Fake H100 80GB",
            "util_pct": util, "mem_used_mb": used, "mem_total_mb": 81920.0,
            "temp_c": temp, "power_w": power, "power_limit_w": 700.0, "error": None}


def _host(cpu: float, used: float) -> dict:
    return {"cpu_pct": cpu, "ncpu": 32, "ram_used_mb": used, "ram_total_mb": 256_000.0}


def ray_nodes(now: float = FIXED_NOW) -> list[dict]:
    """Four nodes: current with two GPUs, stale (30 s old), current without a GPU,
    and one whose node died two minutes ago (its last sample kept)."""
    def node(ip: str, nid: str, seen: float | None, alive: bool = True, gpus=(),
             host=None, status="ok", trials=()) -> dict:
        return {"node_id": nid, "ip": ip, "node": f"{ip}#{nid[:6]}", "alive": alive,
                "resources": {"CPU": 32.0}, "gpu_status": status, "gpus": list(gpus),
                "host": host, "t": seen, "seen": seen, "trials": list(trials)}
    return [
        node("10.0.0.1", "a1b2c3d4", now - 1, gpus=[_gpu(0, 95, 40_000, 71, 550),
                                                    _gpu(1, 40, 12_000, 55, 300)],
             host=_host(62, 100_000), trials=[1, 2]),
        node("10.0.0.2", "d4e5f6a7", now - 30, gpus=[_gpu(0, 80, 70_000, 80, 650)],
             host=_host(90, 200_000), trials=[3]),
        node("10.0.0.3", "778899aa", now - 2, host=_host(5, 20_000)),
        node("10.0.0.4", "bbccddee", now - 120, alive=False,
             gpus=[_gpu(0, 99, 79_000, 86, 690)], host=_host(99, 250_000), trials=[13]),
    ]


def build_ray_run(root: Path, nodes: list[dict] | None = None) -> Path:
    """The fixed run (ui_helpers.build_fixed_run) as if run with `--ray`, with nodes."""
    run_dir = build_fixed_run(root)
    store = RunStore(run_dir)
    try:
        spec = load_spec_json(store.meta()["spec"])
        store.set_meta(spec=spec.with_executor("ray", address="127.0.0.1:6379").to_json(),
                       ray_nodes=ray_nodes() if nodes is None else nodes)
        for entry in ray_nodes():  # the trial table's node column
            for tid in entry["trials"]:
                store.update_trial(tid, node=entry["node"])
    finally:
        store.close()
    return run_dir
