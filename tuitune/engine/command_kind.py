"""What a command kind is: one declaration that every front end and the supervisor read.

A `CommandKind` ties together what used to be a string repeated over six files: its
typed arguments, how they are validated, the supervisor's handler, its `tuitune`
subcommand (help, example, arguments, and how they become the command's arguments) and
its TUI keys. `engine/commands.py` holds every declaration; the CLI's subparsers, the
validator, the supervisor's dispatch and the TUI's hand-action bindings (and through them
the command palette) are derived from there.

Handlers and CLI forms see the engine and the run through the small protocols below, so
this module imports neither the supervisor nor a front end.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from tuitune.core.spec import Spec
from tuitune.store import RunStore


class CommandError(ValueError):
    """A command cannot be carried out; str() is one line for the user."""


A = TypeVar("A", bound=Mapping[str, Any])  # a kind's arguments, as a TypedDict


# -- what a handler may use ------------------------------------------------------------------
class TrialControl(Protocol):
    """The supervisor's trial lifecycle, as commands drive it."""

    def kill(self, trial_id: int, actor: str, message: str, *,
             queued_message: str | None = None) -> None: ...

    def pause(self, trial_id: int, actor: str) -> None: ...

    def unpause(self, trial_id: int, actor: str) -> None: ...

    def clone(self, source_id: int, changes: Mapping[str, Any], from_checkpoint: bool,
              actor: str, origin: str = "clone") -> tuple[int, str]:
        """The new trial's id and the line that answers the command."""

    def stop_experiment(self, actor: str) -> None: ...


class SearchControl(Protocol):
    """The supervisor's search and budget driver, as commands drive it."""

    def hand_off(self, args: Mapping[str, Any], actor: str) -> str: ...

    def edit_space(self, args: Mapping[str, Any], actor: str) -> str: ...

    def change_budget(self, args: Mapping[str, Any], actor: str) -> str: ...

    def outside_space(self, trial_id: int, params: Mapping[str, Any], actor: str) -> str:
        """A warning line (recorded as an event) when a trial set by hand lies outside
        the current space revision; "" when it lies inside."""


class Engine(Protocol):
    """What a handler gets: the run's store and spec, and the supervisor's parts."""

    @property
    def store(self) -> RunStore: ...

    @property
    def spec(self) -> Spec: ...

    @property
    def trials(self) -> TrialControl: ...

    @property
    def search(self) -> SearchControl: ...


# -- what a CLI form may read ----------------------------------------------------------------
class RunView(Protocol):
    """A front end's handle on the run (engine/client.py's RunClient is one)."""

    @property
    def store(self) -> RunStore: ...

    @property
    def spec(self) -> Spec: ...

    def refusal(self, kind: str, trial_id: int, from_checkpoint: bool = False) -> str | None: ...


@dataclass(frozen=True)
class CliForm:
    """`tuitune NAME RUN ...`: the subcommand that sends the kind.

    `arguments` adds the arguments after RUN (each with its help); `payloads` turns the
    parsed arguments into the command's arguments, one per command to send (`kill 3 4`
    sends two; all are validated before any is sent)."""

    name: str
    help: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], None]
    payloads: Callable[[argparse.Namespace, RunView], list[dict[str, Any]]]


@dataclass(frozen=True)
class TuiKey:
    """A key of the TUI's run and detail screens. `action` names a `HandActions.action_*`
    method (ui/screens/hand_actions.py): it builds the command with a form or dialog
    where one is needed. The palette lists it by `description`, with `tooltip`."""

    key: str
    action: str
    description: str
    tooltip: str
    show: bool = True  # in the footer


@dataclass(frozen=True)
class CommandKind(Generic[A]):
    """One command kind, declared once (engine/commands.py)."""

    name: str  # stored in the commands table: never rename one
    validate: Callable[[dict[str, Any], Spec, RunStore], A]
    handle: Callable[[Engine, A, str], str]  # (engine, arguments, actor) -> the answer
    cli: CliForm
    keys: tuple[TuiKey, ...] = ()


# -- argument types shared by the CLI forms and the rest of the CLI ---------------------------
#: Ids, counts and pids are stored in SQLite, whose integers have 64 bits.
MAX_INT = 2**63 - 1


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer (below 2^63), "
                                         f"got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {text!r}")
    return value


def trial_id_arg(text: str) -> int:
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a trial id (a positive integer), got {text!r}"
                                         ) from None


def add_trial_id(sp: argparse.ArgumentParser, what: str = "the trial") -> None:
    sp.add_argument("id", type=trial_id_arg, metavar="ID", help=f"{what} (its id, as "
                    "`tuitune status` lists it)")
