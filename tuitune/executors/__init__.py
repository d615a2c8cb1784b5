"""Executors start, signal and watch trial processes; the engine decides when."""

from tuitune.executors.base import Executor, LaunchRequest, TrialHandle
from tuitune.executors.local import LocalExecutor

__all__ = ["Executor", "LaunchRequest", "LocalExecutor", "TrialHandle", "make_executor"]


def make_executor(kind: str, options: dict | None = None) -> Executor:
    """The executor a spec asks for. Remote ones are imported only when used."""
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        from tuitune.executors.ray_executor import RayExecutor

        return RayExecutor(**(options or {}))
    raise ValueError(f"unknown executor {kind!r}")
