"""A space edit taken again after a supervisor crash is not applied twice."""

from __future__ import annotations

from tests.support.specs import write_spec
from tuitune.core.spec import load_spec
from tuitune.engine.commands import validate
from tuitune.engine.runs import create_run
from tuitune.engine.space_edit import META_KEY
from tuitune.engine.supervisor import Supervisor
from tuitune.store import RunStore


def test_the_same_edit_enqueued_twice_makes_one_revision(tmp_path):
    spec = load_spec(write_spec(tmp_path / "exp", strategy="random"))
    run_dir = create_run(spec, tmp_path / "runs")
    store = RunStore(run_dir)
    args = validate("space", {"undo": False, "ranges": {"lr": {"low": 0.01, "high": 0.1}}},
                    spec, store)
    assert args["token"]
    # The command as the front end stored it, then the same row again: what a
    # supervisor that crashed after recording the revision, before answering, sees.
    first = store.enqueue_command("space", args, "user")
    second = store.enqueue_command("space", args, "user")
    sup = Supervisor(run_dir)
    try:
        sup.commands.handle()
        revisions = store.meta()[META_KEY]
        assert [r["n"] for r in revisions] == [1]
        assert store.command(first).status == store.command(second).status == "done"
        assert store.command(second).result == store.command(first).result
        assert sup.search.space["lr"].low == 0.01  # the searcher's space is the new one
        assert sup.search.searcher.space["lr"].high == 0.1
        undo = validate("space", {"undo": True}, spec, store)
        store.enqueue_command("space", undo, "user")
        sup.commands.handle()
        assert [r["n"] for r in store.meta()[META_KEY]] == [1, 2]
        assert sup.search.searcher.space["lr"].low == spec.space["lr"].low
    finally:
        sup.store.close()
        store.close()
