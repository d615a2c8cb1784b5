"""Every command kind is declared once (engine/commands.py), and the declaration is whole:
a handler that takes what its validator returns, a `tuitune` subcommand that sends it, a
line in docs/cli.md, and its TUI keys in docs/tui.md's key table (issue 11, item 1).
Adding a kind: docs/architecture.md, "Adding a command kind"."""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import typing
from pathlib import Path

import pytest

from tuitune.client import cli_commands
from tuitune.client.cli import build_parser
from tuitune.engine.command_kind import CliForm, CommandKind, TuiKey
from tuitune.engine.commands import BY_NAME, COMMAND_KINDS, CommandError, validate

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Textual's names of keys that docs/tui.md writes as the character.
KEY_SHOWN = {"left_square_bracket": "[", "right_square_bracket": "]"}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _tui_keys_documented() -> set[str]:
    """The keys of docs/tui.md's run-screen table (`| [ / ] | ...` gives `[` and `]`)."""
    text = (DOCS / "tui.md").read_text()
    table = text.split("### Keys (run screen)", 1)[1].split("\n\n", 2)[1]
    keys: set[str] = set()
    for line in table.splitlines()[2:]:
        cell = line.split("|")[1].strip()
        keys.update(k.strip() for k in re.split(r" / | or ", cell))
    return keys


def missing_parts(kinds: typing.Iterable[CommandKind[typing.Any]]) -> list[str]:
    """What each kind lacks: a handler, a CLI form the parser has, its docs lines."""
    cli_doc = (DOCS / "cli.md").read_text()
    subcommands = _subcommands()
    keys = _tui_keys_documented()
    out = []
    for kind in kinds:
        if not callable(kind.handle) or not callable(kind.validate):
            out.append(f"{kind.name}: no handler or validator")
        if not isinstance(kind.cli, CliForm) or kind.cli.name not in subcommands:
            out.append(f"{kind.name}: no `tuitune` subcommand")
        elif f"`tuitune {kind.cli.name} " not in cli_doc:
            out.append(f"{kind.name}: no line for `tuitune {kind.cli.name}` in docs/cli.md")
        for key in kind.keys:
            if KEY_SHOWN.get(key.key, key.key) not in keys:
                out.append(f"{kind.name}: key {key.key} is not in docs/tui.md's key table")
    return out


def test_every_kind_is_whole():
    assert missing_parts(COMMAND_KINDS) == []


def test_the_check_finds_a_kind_that_is_not_whole():
    """The check above can fail: a kind with no subcommand, no docs and an undocumented
    key is reported for each."""
    stray = CommandKind("frobnicate", lambda a, s, st: {}, lambda e, a, actor: "",
                        CliForm("frobnicate", "h", "tuitune frobnicate x", lambda sp: None,
                                lambda a, v: [{}]),
                        (TuiKey("ctrl+y", "frob", "Frob", "tooltip"),))
    undocumented = CommandKind("kill", BY_NAME["kill"].validate, BY_NAME["kill"].handle,
                               BY_NAME["kill"].cli, (TuiKey("F9", "kill", "Kill", "t"),))
    assert missing_parts([stray, undocumented]) == [
        "frobnicate: no `tuitune` subcommand",
        "frobnicate: key ctrl+y is not in docs/tui.md's key table",
        "kill: key F9 is not in docs/tui.md's key table",
    ]


@pytest.mark.parametrize("kind", COMMAND_KINDS, ids=lambda k: k.name)
def test_the_handler_takes_what_the_validator_returns(kind):
    """The kind's typed arguments: one TypedDict, returned by its validator and taken by
    its handler (mypy checks the bodies; this checks the declaration pairs them)."""
    returned = typing.get_type_hints(kind.validate)["return"]
    taken = list(typing.get_type_hints(kind.handle).values())[1]
    assert returned is taken
    assert typing.is_typeddict(returned)


@pytest.mark.parametrize("kind", COMMAND_KINDS, ids=lambda k: k.name)
def test_the_cli_sends_each_kind_through_its_declaration(kind):
    handler = cli_commands.HANDLERS[kind.cli.name]
    assert isinstance(handler, functools.partial)
    assert handler.func is cli_commands.send_kind and handler.args == (kind,)
    args = build_parser().parse_args(shlex.split(kind.cli.example)[1:])
    assert args.command == kind.cli.name


def test_names_and_keys_are_unique():
    names = [k.name for k in COMMAND_KINDS]
    cli_names = [k.cli.name for k in COMMAND_KINDS]
    keys = [key.key for k in COMMAND_KINDS for key in k.keys]
    assert len(set(names)) == len(names) == len(BY_NAME)
    assert len(set(cli_names)) == len(cli_names)
    assert len(set(keys)) == len(keys)
    # A kind's CLI name never shadows another command (`resume` restarts a supervisor).
    other = set(_subcommands()) - set(cli_names)
    assert {"run", "resume", "attach", "ls", "status", "gpu"} <= other


def test_an_unknown_kind_is_one_clear_refusal():
    with pytest.raises(CommandError, match="unknown command 'frobnicate'"):
        validate("frobnicate", {}, None, None)  # type: ignore[arg-type]
