"""The run's SQLite store: the single source of truth and the bus between processes.

Trials write metric points, the supervisor writes trials/events and consumes
commands, front ends read snapshots and enqueue commands. Every write is one
transaction, so a process killed at any moment leaves the database consistent.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuitune.core.history import ParamChange, current_params
from tuitune.core.trial_state import TrialState
from tuitune.store import summary
from tuitune.store.records import (
    CommandRecord,
    EventRecord,
    MetricPoint,
    MetricSummary,
    ParamChangeRecord,
    TrialRecord,
)
from tuitune.store.schema import add_intent_columns, check_version, connect, ensure_schema

DB_NAME = "store.db"
_TRIAL_FIELDS = frozenset(TrialRecord.__dataclass_fields__) - {"id"}


def _parse_position_key(trial_id: int) -> str:
    # A meta row, not a column: no schema change for a value only the supervisor reads.
    return f"stdout_position.{trial_id}"


class StoreError(RuntimeError):
    """A write failed (disk full, read-only folder...); nothing was half-written."""


class StoreUnreadable(RuntimeError):
    """The file is not a readable run store (empty, truncated, overwritten); one line
    naming it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: cannot read this run's store: {reason}")


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Malformed or foreign files, not a busy database or a full disk."""
    return not isinstance(exc, sqlite3.OperationalError) or "no such table" in str(exc)


def _finite_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class RunStore:
    """One connection to a run's database. Not shared between threads."""

    def __init__(self, path: str | os.PathLike[str], create: bool = False,
                 readonly: bool = False, clock: Callable[[], float] = time.time) -> None:
        path = Path(path)
        if path.is_dir():
            path = path / DB_NAME
        if not create and not path.exists():
            raise FileNotFoundError(f"no tuitune run store at {path}")
        self.path = path
        self.clock = clock
        if create:
            # Owner-only: parameters, logs and metrics are nobody else's business.
            old = os.umask(0o077)
            try:
                self._conn = connect(str(path))
                ensure_schema(self._conn)
            finally:
                os.umask(old)
        else:
            self._conn = self._open_existing(readonly)
        # Fixed for the life of the connection. An existing schema-1 store is never
        # migrated: trials started by the older tuitune that wrote it may still be
        # writing points without summaries, which would leave the summaries wrong.
        # Readers compute its values from the points instead (one pass on open).
        self.summarized = check_version(self._conn) >= 2

    def _open_existing(self, readonly: bool) -> sqlite3.Connection:
        """Connect, after checking that the file is a run store: an empty file is refused
        before SQLite (in write mode) would turn it into a database; SQLite itself
        refuses a foreign one ("file is not a database") without writing to it.

        Never open() and close() the file here: POSIX locks belong to the process, so
        closing any other descriptor of store.db drops the locks of this process's live
        connections, and another process's connection, taking itself for the last one,
        then deletes the WAL under them (lost writes, "disk I/O error")."""
        if os.stat(self.path).st_size == 0:
            raise StoreUnreadable(self.path, "the file is empty")
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(str(self.path), readonly=readonly)
            if check_version(conn) == 0:
                raise StoreUnreadable(self.path, "it has no tuitune tables")
            conn.execute("SELECT count(*) FROM meta").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreUnreadable(self.path, str(exc)) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def prepare_for_supervisor(self) -> None:
        """Add what a supervisor records before it acts (schema 3) to an older store."""
        try:
            add_intent_columns(self._conn)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc

    # -- low level -----------------------------------------------------------------
    def _write(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            with self._conn:
                return self._conn.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc

    def _write_many(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        try:
            with self._conn:
                for sql, args in statements:
                    self._conn.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None

    def _tuples(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        """Rows as plain tuples: cheaper than sqlite3.Row when there are many."""
        cur = self._conn.cursor()
        cur.row_factory = None
        try:
            return cur.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: sqlite3.DatabaseError) -> Exception:
        # Damage found past the first page (a truncated file) is named like damage
        # found on open; a busy or locked database stays what it is.
        return StoreUnreadable(self.path, str(exc)) if _is_damage(exc) else exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the database (a read transaction), e.g. the
        last point id and the summaries that count the points up to it. In WAL mode
        it never blocks a writer. Reads only: nothing written inside is kept."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.rollback()

    # -- meta -----------------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        self._write_many(
            ("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (k, json.dumps(v)))
            for k, v in values.items()
        )

    def meta(self, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """Meta values; only `keys` when given (the stored spec is big to parse)."""
        if keys is None:
            rows = self._tuples("SELECT key, value FROM meta")
        else:
            keys = list(keys)
            rows = self._tuples(f"SELECT key, value FROM meta WHERE key IN "
                                f"({','.join('?' * len(keys))})", keys)
        return {k: json.loads(v) for k, v in rows}

    # -- trials ---------------------------------------------------------------------
    def create_trial(self, params: dict[str, Any], origin: str, actor: str,
                     parent_id: int | None = None, clone_step: int | None = None,
                     from_checkpoint: bool = False, message: str = "",
                     data: dict[str, Any] | None = None,
                     initial_checkpoint: str | None = None) -> int:
        """Insert a queued trial and its 'created' event in one transaction.

        `message` may contain `{id}`, replaced by the new trial's id.
        """
        now = self.clock()
        try:
            with self._conn:
                cur = self._conn.execute(
                    "INSERT INTO trials(state, origin, parent_id, clone_step, from_checkpoint,"
                    " initial_checkpoint, params, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (TrialState.QUEUED, origin, parent_id, clone_step, int(from_checkpoint),
                     initial_checkpoint, json.dumps(params), now, now),
                )
                trial_id = int(cur.lastrowid)  # type: ignore[arg-type]
                self._conn.execute(
                    "INSERT INTO events(t, trial_id, kind, actor, message, data)"
                    " VALUES (?, ?, 'created', ?, ?, ?)",
                    (now, trial_id, actor,
                     message.replace("{id}", str(trial_id)) if message
                     else f"trial {trial_id} created ({origin})",
                     json.dumps({"params": params, **(data or {})})),
                )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc
        return trial_id

    def update_trial(self, trial_id: int, **fields: Any) -> None:
        unknown = set(fields) - _TRIAL_FIELDS
        if unknown:
            raise ValueError(f"unknown trial fields {sorted(unknown)}")
        sql, args = self._trial_update_sql(trial_id, fields)
        self._write(sql, args)

    def _trial_update_sql(self, trial_id: int, fields: dict[str, Any]) -> tuple[str, list]:
        fields = dict(fields, updated_at=self.clock())
        for key in ("params", "tree", "end_plan"):
            if key in fields and not isinstance(fields[key], str) and fields[key] is not None:
                fields[key] = json.dumps(fields[key])
        cols = ", ".join(f"{k} = ?" for k in fields)
        return f"UPDATE trials SET {cols} WHERE id = ?", [*fields.values(), trial_id]

    def transition(self, trial_id: int, state: str, actor: str, message: str,
                   data: dict[str, Any] | None = None, **fields: Any) -> None:
        """Change a trial's state and record why, atomically."""
        sql, args = self._trial_update_sql(trial_id, dict(fields, state=state))
        self._write_many([
            (sql, args),
            ("INSERT INTO events(t, trial_id, kind, actor, message, data) VALUES (?,?,?,?,?,?)",
             (self.clock(), trial_id, state, actor, message,
              json.dumps(data) if data else None)),
        ])

    def trials(self, states: Iterable[str] | None = None) -> list[TrialRecord]:
        if states is None:
            rows = self._rows("SELECT * FROM trials ORDER BY id")
        else:
            states = list(states)
            marks = ",".join("?" * len(states))
            rows = self._rows(f"SELECT * FROM trials WHERE state IN ({marks}) ORDER BY id",
                              states)
        return [TrialRecord.from_row(r) for r in rows]

    def count_trials(self, states: Iterable[str] | None = None,
                     exclude_origin: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM trials WHERE 1=1", []
        if states is not None:
            states = list(states)
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if exclude_origin is not None:
            sql += " AND origin != ?"
            args.append(exclude_origin)
        return int(self._rows(sql, args)[0][0])

    def trial(self, trial_id: int) -> TrialRecord | None:
        rows = self._rows("SELECT * FROM trials WHERE id = ?", (trial_id,))
        return TrialRecord.from_row(rows[0]) if rows else None

    def trial_stamps(self, since: float) -> list[tuple[int, float]]:
        """(id, updated_at) of trials updated at or after `since`: cheap to ask often."""
        return self._tuples("SELECT id, updated_at FROM trials WHERE updated_at >= ?",
                            (since,))

    def trials_changed_since(self, t: float) -> list[TrialRecord]:
        rows = self._rows("SELECT * FROM trials WHERE updated_at >= ? ORDER BY id", (t,))
        return [TrialRecord.from_row(r) for r in rows]

    def current_params(self, trial: TrialRecord) -> dict[str, Any]:
        """A trial's parameters now: what it started with plus the tweaks it applied."""
        return current_params(trial.params, self.param_history(trial.id))

    def param_history(self, trial_id: int) -> list[ParamChange]:
        """A trial's tweaks as `history.ParamChange`s (step None: not applied yet)."""
        return [ParamChange(c.name, c.value, c.applied_step)
                for c in self.param_changes(trial_id)]

    # -- parameter changes (tweaks) ---------------------------------------------------
    def add_param_change(self, trial_id: int, name: str, value: Any, actor: str) -> int:
        cur = self._write(
            "INSERT INTO param_changes(trial_id, name, value, actor, requested_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (trial_id, name, json.dumps(value), actor, self.clock()),
        )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def param_changes(self, trial_id: int | None = None, unapplied_only: bool = False,
                      applied_since: float | None = None) -> list[ParamChangeRecord]:
        sql, args = "SELECT * FROM param_changes WHERE 1=1", []
        if applied_since is not None:
            sql += " AND applied_at >= ?"
            args.append(applied_since)
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args.append(trial_id)
        if unapplied_only:
            sql += " AND applied_step IS NULL"
        return [ParamChangeRecord.from_row(r) for r in self._rows(sql + " ORDER BY id", args)]

    def ack_param_changes(self, change_ids: Sequence[int], step: int) -> None:
        # Acks alone: with no points and no fields, record_reports touches no trial row.
        self.record_reports(0, (), acks=[(change_ids, step)])

    # -- metrics --------------------------------------------------------------------
    def add_metrics(self, trial_id: int, points: Iterable[tuple[int, str, float, float]]) -> int:
        """Append (step, name, value, t) points for one trial in one transaction."""
        return self.record_reports(trial_id, points)

    def record_reports(self, trial_id: int, points: Iterable[tuple[int, str, float, float]],
                       checkpoint: tuple[str, int] | None = None,
                       acks: Sequence[tuple[Sequence[int], int]] = (),
                       mark_api_seen: bool = False,
                       meta: dict[str, Any] | None = None) -> int:
        """A trial's batch of reports (points, its latest checkpoint, tweak acks) in one
        transaction: a failed write leaves nothing half done, so retrying the whole
        batch never stores a point twice. `meta` values are written with them."""
        rows = [(trial_id, int(s), str(n), _finite_or_none(v), float(t)) for s, n, v, t in points]
        fields: dict[str, Any] = {}
        if rows and mark_api_seen:
            fields["api_seen"] = 1
        if checkpoint is not None:
            fields.update(checkpoint=checkpoint[0], checkpoint_step=checkpoint[1])
        now = self.clock()
        try:
            with self._conn:
                if rows:
                    self._conn.executemany(
                        "INSERT INTO metrics(trial_id, step, name, value, t) VALUES (?,?,?,?,?)",
                        rows,
                    )
                    if self.summarized:  # same transaction: summaries always match the points
                        self._conn.executemany(summary.UPSERT, summary.batch_rows(trial_id, rows))
                if fields:
                    self._conn.execute(*self._trial_update_sql(trial_id, fields))
                for key, value in (meta or {}).items():
                    self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                       (key, json.dumps(value)))
                for change_ids, step in acks:
                    self._conn.executemany(
                        "UPDATE param_changes SET applied_step = ?, applied_at = ? WHERE id = ?"
                        " AND applied_step IS NULL", [(step, now, cid) for cid in change_ids])
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc
        return len(rows)

    def add_parsed_metrics(self, trial_id: int, points: Iterable[tuple[int, str, float, float]],
                           position: dict[str, Any]) -> int:
        """Points parsed from a trial's output, stored with how far its log has been
        read in the same transaction: after a crash, reading resumes exactly there."""
        return self.record_reports(trial_id, points,
                                   meta={_parse_position_key(trial_id): position})

    def parse_position(self, trial_id: int) -> dict[str, Any] | None:
        """Where reading a trial's output for metrics stopped (None: never stored)."""
        return self.meta([_parse_position_key(trial_id)]).get(_parse_position_key(trial_id))

    def metrics(self, trial_id: int | None = None, name: str | None = None,
                after_id: int = 0, limit: int | None = None) -> list[MetricPoint]:
        sql = "SELECT id, trial_id, step, name, value, t FROM metrics WHERE id > ?"
        args: list[Any] = [after_id]
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args.append(trial_id)
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [MetricPoint.from_row(r) for r in self._conn.execute(sql, args)]

    def metric_rows(self, name: str) -> Iterator[tuple[int, int, float]]:
        """(trial id, step, value) of one metric, by trial then step, in one pass."""
        rows = self._conn.execute(
            "SELECT trial_id, step, value FROM metrics WHERE name = ? ORDER BY trial_id, step, id",
            (name,),
        )
        for tid, step, value in rows:
            yield tid, step, math.nan if value is None else value

    def new_points(self, after_id: int, limit: int) -> list[tuple[int, int, int, str, float]]:
        """(id, trial id, step, name, value) after `after_id`, oldest first, NaN for NaN:
        raw tuples, for readers that follow a run."""
        rows = self._tuples("SELECT id, trial_id, step, name, value FROM metrics WHERE id > ?"
                            " ORDER BY id LIMIT ?", (after_id, limit))
        return [(i, t, s, n, math.nan if v is None else v) for i, t, s, n, v in rows]

    def metric_names(self) -> list[str]:
        table = "metric_summary" if self.summarized else "metrics"
        return [r[0] for r in self._tuples(f"SELECT DISTINCT name FROM {table} ORDER BY name")]

    def trial_metric_names(self, trial_ids: Iterable[int]) -> set[str]:
        """Distinct metric names of some trials, by seeking the (trial, name, step) index
        name to name (a loose index scan): a few seeks per trial, not a scan of points."""
        cur = self._conn.cursor()
        cur.row_factory = None
        names: set[str] = set()
        for tid in trial_ids:
            name = ""
            while True:
                row = cur.execute("SELECT MIN(name) FROM metrics WHERE trial_id = ?"
                                  " AND name > ?", (tid, name)).fetchone()
                if row is None or row[0] is None:
                    break
                name = row[0]
                names.add(name)
        return names

    def metric_summaries(self, name: str) -> list[MetricSummary] | None:
        """Each trial's summary of one metric as kept with the points (a small read);
        None for a store from before they were kept (see `compute_metric_summaries`)."""
        if not self.summarized:
            return None
        return [MetricSummary.from_tuple(r) for r in self._tuples(summary.READ, (name,))]

    def compute_metric_summaries(self, name: str, up_to_id: int) -> list[MetricSummary]:
        """The same from the points with id <= `up_to_id`: one pass over them."""
        rows = self._tuples(summary.COMPUTE, {"name": name, "up_to": up_to_id})
        return [MetricSummary.from_tuple(r) for r in rows]

    def last_metric_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id), 0) FROM metrics")[0][0])

    def count_metrics(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM metrics")[0][0])

    def curve(self, trial_id: int, name: str, up_to_id: int | None = None
              ) -> list[tuple[int, float]]:
        """One metric of one trial in step order (NaN for NaN), points with id <=
        `up_to_id` only when given."""
        sql, args = "SELECT step, value FROM metrics WHERE trial_id = ? AND name = ?", [
            trial_id, name]
        if up_to_id is not None:
            sql += " AND id <= ?"
            args.append(up_to_id)
        rows = self._tuples(sql + " ORDER BY step, id", args)
        return [(s, math.nan if v is None else v) for s, v in rows]

    # -- events ---------------------------------------------------------------------
    def add_event(self, kind: str, actor: str, message: str, trial_id: int | None = None,
                  data: dict[str, Any] | None = None) -> None:
        self._write(
            "INSERT INTO events(t, trial_id, kind, actor, message, data) VALUES (?,?,?,?,?,?)",
            (self.clock(), trial_id, kind, actor, message, json.dumps(data) if data else None),
        )

    def last_event_id(self) -> int:
        return int(self._tuples("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])

    def events(self, after_id: int = 0, trial_id: int | None = None) -> list[EventRecord]:
        sql, args = "SELECT * FROM events WHERE id > ?", [after_id]
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args.append(trial_id)
        return [EventRecord.from_row(r) for r in self._rows(sql + " ORDER BY id", args)]

    # -- commands -------------------------------------------------------------------
    def enqueue_command(self, kind: str, args: dict[str, Any], actor: str) -> int:
        cur = self._write(
            "INSERT INTO commands(t, kind, args, actor) VALUES (?, ?, ?, ?)",
            (self.clock(), kind, json.dumps(args), actor),
        )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def pending_commands(self) -> list[CommandRecord]:
        return self._commands("pending")

    def taken_commands(self) -> list[CommandRecord]:
        """Commands a supervisor took and never answered: it died while acting."""
        return self._commands("taken")

    def _commands(self, status: str) -> list[CommandRecord]:
        rows = self._rows("SELECT * FROM commands WHERE status = ? ORDER BY id", (status,))
        return [CommandRecord.from_row(r) for r in rows]

    def take_command(self, command_id: int) -> bool:
        """Mark a pending command taken, before acting on it, so that it is never
        carried out twice; False if it was not pending."""
        cur = self._write("UPDATE commands SET status = 'taken' WHERE id = ? AND status = "
                          "'pending'", (command_id,))
        return cur.rowcount == 1

    def finish_command(self, command_id: int, status: str, result: str) -> None:
        """Answer a command: done, rejected (invalid when its turn came) or failed (it
        raised, or a supervisor died carrying it out). A failure also goes to the event
        log, in the same transaction, so it is logged exactly once."""
        now = self.clock()
        statements: list[tuple[str, Sequence[Any]]] = [(
            "UPDATE commands SET status = ?, result = ?, done_at = ? WHERE id = ?",
            (status, result, now, command_id))]
        if status == "failed":
            statements.append((
                "INSERT INTO events(t, trial_id, kind, actor, message, data)"
                " VALUES (?, NULL, 'command_failed', 'engine', ?, ?)",
                (now, result, json.dumps({"command": command_id}))))
        self._write_many(statements)

    def command(self, command_id: int) -> CommandRecord | None:
        rows = self._rows("SELECT * FROM commands WHERE id = ?", (command_id,))
        return CommandRecord.from_row(rows[0]) if rows else None
