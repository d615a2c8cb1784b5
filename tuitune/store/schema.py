"""The run database's schema and its version check."""

from __future__ import annotations

import sqlite3

from tuitune.store import summary

#: 1: the tables below. 2: `metric_summary` (store/summary.py), kept with the points.
#: 3: the supervisor's intents on `trials` (INTENT_COLUMNS), so a new supervisor can
#: finish what a killed one started (docs/architecture.md, "Crash-safe steps").
SCHEMA_VERSION = 3

#: Nullable columns a supervisor needs; added in place to an older store when a
#: supervisor opens it. Adding a column never disturbs a writer that names its columns
#: (trials of an older tuitune may still be writing), so this is safe while they run.
INTENT_COLUMNS = (("launch_token", "TEXT"), ("end_plan", "TEXT"))


class StoreVersionError(RuntimeError):
    """The database was written by a newer tuitune."""


# Non-finite metric values: SQLite stores NaN as NULL, so NULL in `metrics.value`
# means NaN; +/-inf round-trip as REAL.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials(
  id INTEGER PRIMARY KEY,
  state TEXT NOT NULL,
  origin TEXT NOT NULL,
  parent_id INTEGER,
  clone_step INTEGER,
  from_checkpoint INTEGER NOT NULL DEFAULT 0,
  initial_checkpoint TEXT,
  params TEXT NOT NULL,
  created_at REAL NOT NULL,
  started_at REAL,
  ended_at REAL,
  pid INTEGER,
  pid_start REAL,
  node TEXT,
  gpus TEXT,
  exit_code INTEGER,
  error TEXT,
  note TEXT NOT NULL DEFAULT '',
  starred INTEGER NOT NULL DEFAULT 0,
  protected INTEGER NOT NULL DEFAULT 0,
  stop_requested INTEGER NOT NULL DEFAULT 0,
  api_seen INTEGER NOT NULL DEFAULT 0,
  checkpoint TEXT,
  checkpoint_step INTEGER,
  peak_gpu_mem_mb REAL,
  tree TEXT,
  updated_at REAL,
  launch_token TEXT,
  end_plan TEXT
);
CREATE TABLE IF NOT EXISTS param_changes(
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  actor TEXT NOT NULL,
  requested_at REAL NOT NULL,
  applied_step INTEGER,
  applied_at REAL
);
CREATE TABLE IF NOT EXISTS metrics(
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  t REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_trial ON metrics(trial_id, name, step);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  t REAL NOT NULL,
  trial_id INTEGER,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT
);
CREATE INDEX IF NOT EXISTS events_by_trial ON events(trial_id);
CREATE TABLE IF NOT EXISTS commands(
  id INTEGER PRIMARY KEY,
  t REAL NOT NULL,
  kind TEXT NOT NULL,
  args TEXT NOT NULL,
  actor TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  result TEXT,
  done_at REAL
);
"""


def connect(path: str, timeout: float = 30.0, readonly: bool = False) -> sqlite3.Connection:
    """Open the run database with the settings every process must share."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # WAL lets readers (TUI, CLI) run alongside the writers (trials, supervisor).
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    # NORMAL is durable against process crashes in WAL mode; only power loss may
    # drop the last transactions, never corrupt the database.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables, or bring an older store up to this version (in one
    transaction holding the write lock, so no writer sees it half done)."""
    version = check_version(conn)
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_version(conn)  # again, now that no one else can write
        if version == 0:
            # executescript() would commit first: one statement at a time instead.
            for statement in (SCHEMA + summary.TABLE).split(";"):
                if statement.strip():
                    conn.execute(statement)
        elif version == 1:
            summary.migrate(conn)
            _add_intent_columns(conn)
        elif version == 2:
            _add_intent_columns(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _add_intent_columns(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    for name, kind in INTENT_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")


def add_intent_columns(conn: sqlite3.Connection) -> None:
    """Give an existing store the supervisor's intent columns, in one transaction.

    A version-2 store becomes version 3. A version-1 store keeps its number: its
    points still have no summaries, which readers detect by that number."""
    if check_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        _add_intent_columns(conn)
        if check_version(conn) == 2:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_version(conn: sqlite3.Connection) -> int:
    """The store's schema version; an error if a newer tuitune wrote it."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"this run was written by a newer tuitune (schema {version}, this one reads "
            f"up to {SCHEMA_VERSION}); upgrade tuitune to open it"
        )
    return version
