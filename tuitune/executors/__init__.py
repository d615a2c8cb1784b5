"""Executors start, signal and watch trial processes; the engine decides when."""

from tuitune.executors.base import Executor, LaunchRequest, TrialHandle
from tuitune.executors.local import LocalExecutor

__all__ = ["Executor", "LaunchRequest", "LocalExecutor", "TrialHandle"]
