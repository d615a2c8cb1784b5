"""`tuitune --help` describes every argument and shows one example per command
(issue 14.15): a new argument without a description fails here."""

from __future__ import annotations

import argparse
import shlex

from tuitune.client.cli import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _undescribed(parser: argparse.ArgumentParser) -> list[str]:
    return ["/".join(a.option_strings) or a.metavar or a.dest for a in parser._actions
            if not isinstance(a, argparse._HelpAction) and not a.help]


def test_every_argument_of_every_command_is_described():
    missing = {name: _undescribed(sp) for name, sp in _subcommands().items()}
    missing["tuitune"] = _undescribed(build_parser())
    assert not {name: args for name, args in missing.items() if args}


def test_every_command_shows_an_example_of_itself():
    for name, sp in _subcommands().items():
        help_text = sp.format_help()
        assert f"example:\n  tuitune {name}" in help_text, (name, help_text)
        # The example parses: it is a command line that works, not a sketch.
        example = help_text.split("example:\n  ", 1)[1].splitlines()[0]
        args = build_parser().parse_args(shlex.split(example)[1:])
        assert args.command == name
    assert len(_subcommands()) >= 25

