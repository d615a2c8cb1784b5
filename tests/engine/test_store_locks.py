"""Opening a store never drops the SQLite locks of the process's other connections.

POSIX locks belong to a process: a descriptor of store.db closed outside SQLite
releases them all, and then another process's connection takes itself for the last
one and deletes the WAL under the live ones. Real processes, real SQLite.
"""

from __future__ import annotations

import subprocess
import sys

from tuitune.store import RunStore

OPEN_AND_CLOSE = "import sys; from tuitune.store import RunStore; RunStore(sys.argv[1]).close()"


def test_a_second_store_opened_and_closed_keeps_the_first_ones_wal(tmp_path):
    RunStore(tmp_path, create=True).close()
    live = RunStore(tmp_path)  # e.g. a follower's connection, open for the whole run
    try:
        live.add_event("one", "test", "first")
        RunStore(tmp_path, readonly=True).close()  # the same process reads it again
        # Another process opens and closes a connection: it is not the last one.
        subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(tmp_path)], check=True)
        assert (tmp_path / "store.db-wal").exists()
        live.add_event("two", "test", "second")
        assert [e.message for e in live.events()] == ["first", "second"]
    finally:
        live.close()
