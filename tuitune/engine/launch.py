"""Turn a trial record into a LaunchRequest: argv, folder and environment."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuitune.executors import LaunchRequest
from tuitune.core.roles import ROLES_ENV, roles_env
from tuitune.core.spec import PLACEHOLDER, Arg, Spec


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_argv(command: Sequence[Arg], values: Mapping[str, Any]) -> tuple[str, ...]:
    """Fill `{name}` placeholders. Each value lands inside one argv element as
    literal text: no shell ever sees it. A group (a tuple of arguments) is left out
    whole when a placeholder in it names a parameter the trial does not have (an
    inactive conditional parameter)."""
    argv: list[str] = []
    for arg in command:
        group = (arg,) if isinstance(arg, str) else arg
        if not isinstance(arg, str) and any(
                name not in values for a in group for name in PLACEHOLDER.findall(a)):
            continue
        argv += [PLACEHOLDER.sub(lambda m: format_value(values[m.group(1)]), a) for a in group]
    return tuple(argv)


def build_launch(spec: Spec, run_dir: Path, trial_id: int, params: Mapping[str, Any],
                 gpus: Sequence[int] | None, initial_checkpoint: Path | None = None,
                 initial_step: int = 0, base_env: Mapping[str, str] | None = None
                 ) -> LaunchRequest:
    from tuitune.engine.runs import trial_dir as make_trial_dir
    from tuitune.store import DB_NAME

    tdir = make_trial_dir(run_dir, trial_id)
    values = {**params, "python": sys.executable, "trial_id": trial_id,
              "trial_dir": str(tdir), "run_dir": str(run_dir)}
    env = dict(os.environ if base_env is None else base_env)
    env.update(spec.env)
    env.update({
        "TUITUNE_RUN_DIR": str(run_dir),
        "TUITUNE_STORE": str(run_dir / DB_NAME),
        "TUITUNE_TRIAL_ID": str(trial_id),
        "TUITUNE_TRIAL_DIR": str(tdir),
        "TUITUNE_PARAMS": json.dumps(dict(params)),
        ROLES_ENV: roles_env(spec.space),
        # Output arrives line by line, so parsed metrics and the log tail are live.
        "PYTHONUNBUFFERED": "1",
    })
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        # NVML (which the scheduler reads) numbers GPUs in PCI bus order; CUDA
        # does not by default, so make them agree.
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    if spec.resources.memory_growth:
        # Parallel TensorFlow trials share a GPU only if none grabs all its memory.
        env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    if spec.resources.gpu_memory_mb:
        env["TUITUNE_GPU_MEMORY_MB"] = str(spec.resources.gpu_memory_mb)
    if initial_checkpoint is not None:
        env["TUITUNE_INITIAL_CHECKPOINT"] = str(initial_checkpoint)
        env["TUITUNE_INITIAL_STEP"] = str(initial_step)
    return LaunchRequest(
        trial_id=trial_id, argv=render_argv(spec.command, values), cwd=spec.workdir,
        env=env, trial_dir=tdir, log_path=tdir / "log.txt",
    )
