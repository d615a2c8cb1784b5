"""Refuse before asking: what the engine would refuse is said at once, in the terms of
the trial's state, before any confirmation or form (issue 13.6), by the TUI and the
CLI alike (engine/refusals.py is the one home of the rules)."""

from __future__ import annotations

import os
import subprocess
import sys

from ui_helpers import burst, from_store, make_fixed_app, settle, wait_for

from tuitune.store import RunStore
from tuitune.ui.screens.dialogs import ConfirmDialog
from tuitune.ui.screens.param_form import ParamForm

SIZE = (120, 40)
COMPLETED = 4  # build_fixed_run: completed, val_loss reported at steps 1..40


def _with_checkpoints(run_dir) -> None:
    """Trial 4's checkpoint is at the step it ended (40); trial 5's five steps before."""
    store = RunStore(run_dir)
    try:
        store.update_trial(4, checkpoint=str(run_dir / "ck4"), checkpoint_step=40)
        store.update_trial(5, checkpoint=str(run_dir / "ck5"), checkpoint_step=35)
    finally:
        store.close()


def _toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def _select(pilot, app, trial_id: int) -> None:
    table = app.screen.table
    burst(app, "home", *["down"] * table.order.index(trial_id))
    await wait_for(pilot, lambda: table.cursor_id == trial_id, what=f"trial {trial_id}")


async def test_keys_on_a_completed_trial_say_why_before_asking(fixed_run):
    _with_checkpoints(fixed_run)
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        home = app.screen
        await _select(pilot, app, COMPLETED)
        for key, words in (("k", "nothing to kill"), ("p", "nothing to pause"),
                           ("left_square_bracket", "could never apply"),
                           ("t", "could never apply")):
            app.clear_notifications()
            burst(app, key)
            toast = await wait_for(pilot, lambda: _toasts(app), what=f"the answer to {key}")
            assert app.screen is home, f"{key} opened {app.screen}"  # no dialog, no form
            assert f"trial {COMPLETED} is completed: it has ended" in toast[0], toast
            assert words in toast[0] and "outside" not in toast[0], toast
        # the clone form offers its checkpoint only with the reason it cannot be used
        burst(app, "c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, ParamForm) and app.screen)
        assert form.query_one("#from-checkpoint").disabled
        assert "nothing left to train" in (form.checkpoint_refusal or "")
        assert "step 40 of 40" in form.checkpoint_refusal
        burst(app, "escape")
        await wait_for(pilot, lambda: app.screen is home)
        assert not any(isinstance(s, ConfirmDialog) for s in app.screen_stack)
        # a trial with steps left after its checkpoint may be cloned from it
        assert app.refusal("clone", 5, from_checkpoint=True) is None
    assert from_store(fixed_run, lambda s: s.pending_commands()) == []  # nothing was sent


def test_the_cli_refuses_in_the_same_words(fixed_run):
    _with_checkpoints(fixed_run)
    env = {**os.environ, "TUITUNE_HOME": str(fixed_run.parent.parent)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tuitune", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    run = fixed_run.name
    for args, words in ((("kill", run, "4"), "nothing to kill"),
                        (("tweak", run, "4", "lr=5"), "could never apply"),
                        (("clone", run, "4", "--from-checkpoint"), "nothing left to train")):
        done = cli(*args)
        assert done.returncode != 0, (args, done.stdout)
        err = done.stderr.strip()
        assert err.count("\n") == 0 and err.startswith("tuitune: "), err
        assert words in err, err
    assert from_store(fixed_run, lambda s: s.pending_commands()) == []
