"""The run store: one SQLite database (WAL) per run folder."""

from tuitune.store.records import (
    CommandRecord,
    EventRecord,
    MetricPoint,
    MetricSummary,
    ParamChangeRecord,
    TrialRecord,
)
from tuitune.store.run_store import DB_NAME, RunStore, StoreError, StoreUnreadable
from tuitune.store.schema import SCHEMA_VERSION, StoreVersionError

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "CommandRecord",
    "EventRecord",
    "MetricPoint",
    "MetricSummary",
    "ParamChangeRecord",
    "RunStore",
    "StoreError",
    "StoreUnreadable",
    "StoreVersionError",
    "TrialRecord",
]
