"""`tuitune ls` fits the terminal (issue 14.11-12): a run's name from the spec plus its
start time is long, and at 80 columns a row of quickstart's was 82 characters (seen in
tmux: `0.3286 (val_loss` on one line, `)` on the next)."""

from __future__ import annotations

from tuitune.client.summary import RunOverview, runs_table

OBJECTIVE = {"metric": "val_loss", "mode": "min"}


def _run(name: str, best: float | None, error: str | None = None) -> RunOverview:
    return RunOverview(name, f"/runs/{name}", "unreadable" if error else "finished",
                       None if error else 1796223542.0, None if error else 8,
                       None if error else 8, best, None if error else OBJECTIVE, error)


def test_ls_at_80_columns_puts_the_best_under_a_row_too_wide_and_never_wraps():
    runs = [_run("quickstart-20261202-145902", 0.3286121518312885),
            _run("momentum-sgd-20261202-150114", 0.03833),
            _run("broken-20261202-150000", None, error="store.db is not a tuitune store")]
    narrow = runs_table(runs, width=80).splitlines()
    assert max(map(len, narrow)) <= 80, narrow
    assert narrow[0].split() == ["run", "started", "state", "trials"]
    assert narrow[1].startswith("quickstart-20261202-145902") and narrow[1].endswith("8/8")
    assert narrow[2] == "    best 0.3286 (val_loss)"
    assert narrow[4] == "    best 0.03833 (val_loss)"
    assert narrow[6] == "    store.db is not a tuitune store"  # whole, not wrapped
    wide = runs_table(runs, width=200).splitlines()  # room: one line per run, as before
    assert wide[0].split() == ["run", "started", "state", "trials", "best"]
    assert wide[1].endswith("0.3286 (val_loss)") and len(wide) == 4
