"""The hand-action keys of the run and detail screens are the command kinds' declared
keys (engine/commands.py), and each names an action the screens have (issue 11, item 1)."""

from __future__ import annotations

from tuitune.engine.commands import COMMAND_KINDS
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.screens.hand_actions import HAND_BINDINGS, HandActions
from tuitune.ui.screens.run_screen import RunScreen


def test_every_declared_key_names_an_action_of_the_screens():
    for kind in COMMAND_KINDS:
        for key in kind.keys:
            method = "action_" + key.action.split("(", 1)[0]
            assert callable(getattr(HandActions, method, None)), (kind.name, key.key, method)


def test_the_screens_bind_exactly_the_declared_keys():
    declared = [(k.key, k.action, k.description) for kind in COMMAND_KINDS for k in kind.keys]
    assert [(b.key, b.action, b.description) for b in HAND_BINDINGS] == declared
    for screen in (RunScreen, DetailScreen):
        bound = {(b.key, b.action) for b in screen.BINDINGS if not isinstance(b, tuple)}
        assert {(k, a) for k, a, _ in declared} <= bound, screen.__name__
