"""Trial states are one enum (issue 11, item 5): the store reads them back as
`TrialState` members, every state has a style and a place in the table's filters,
and no module compares a state with a bare string."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import tuitune
from tuitune.core.spec import load_spec
from tuitune.core.trial_state import (
    ACTIVE_STATES,
    FAILED_STATES,
    FINISHED_STATES,
    STOPPED_STATES,
    TrialState,
)
from tuitune.engine.runs import create_run
from tuitune.store import RunStore

PACKAGE = Path(tuitune.__file__).resolve().parent


def test_the_store_reads_states_back_as_the_enum(tmp_path):
    (tmp_path / "spec.toml").write_text(
        'name = "states"\ncommand = ["true"]\n[space.x]\ntype = "float"\nlow = 0\nhigh = 1\n'
        '[objective]\nmetric = "loss"\n')
    store = RunStore(create_run(load_spec(tmp_path / "spec.toml"), tmp_path / "runs"))
    try:
        tid = store.create_trial({"x": 0.5}, "manual", "user")
        assert store.trial(tid).state is TrialState.QUEUED
        store.transition(tid, TrialState.PRUNED, "engine", "pruned")
        assert store.trial(tid).state is TrialState.PRUNED
        assert [t.id for t in store.trials([TrialState.PRUNED])] == [tid]
    finally:
        store.close()


def test_every_state_has_a_style_and_one_place_in_the_filters():
    from tuitune.ui.palette import STATE_STYLES
    from tuitune.ui.widgets.trial_table import STATE_FILTERS

    assert set(STATE_STYLES) == set(TrialState)
    assert FINISHED_STATES == set(TrialState) - ACTIVE_STATES
    for state in TrialState:
        row = SimpleNamespace(state=state, starred=False)
        groups = [name for name in ("active", "completed", "failed", "stopped")
                  if STATE_FILTERS[name](row)]
        assert len(groups) == 1, (state, groups)
    assert FAILED_STATES.isdisjoint(STOPPED_STATES)


def _state_words(node: ast.Compare) -> list[str]:
    """The string constants a comparison of some `x.state` holds (`t.state == "lost"`,
    `r.state in ("failed", "lost")`)."""
    sides = [node.left, *node.comparators]
    if not any(isinstance(n, ast.Attribute) and n.attr == "state" for n in sides):
        return []
    return [c.value for side in sides for c in ast.walk(side)
            if isinstance(c, ast.Constant) and isinstance(c.value, str)]


def test_no_module_compares_a_state_with_a_bare_string():
    words = {s.value for s in TrialState}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        found += [f"{path.relative_to(PACKAGE)}:{node.lineno} {word!r}"
                  for node in ast.walk(tree) if isinstance(node, ast.Compare)
                  for word in _state_words(node) if word in words]
    assert not found, "name states by TrialState (core/trial_state.py):\n" + "\n".join(found)


def test_a_state_shows_as_its_stored_word():
    # enum.StrEnum is Python 3.11+; the str mix-in must still read as the word on 3.10+.
    state = TrialState.RUNNING
    assert (str(state), f"{state}", f"{state:>8}", "%s" % state) == (
        "running", "running", " running", "running")
