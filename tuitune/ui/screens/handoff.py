"""Hand the run to automatic search (or back to manual): strategy, budget, concurrency,
and the stopping rules from now on.

The strategies listed are whatever `available_strategies()` offers at the time;
choosing "manual" takes the run back by hand. The rules listed are the stopping-rule
registry's (`available_rules()`), the run's current ones ticked and first, in their
order; the rules are sent only when the ticks or their options change, so a plain
hand-off keeps the rules' state (ASHA's rungs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from tuitune.core.space import parse_options
from tuitune.engine.rules_edit import (
    RuleConfig,
    describe,
    format_rule_options,
    parse_rule_options,
    with_options,
)
from tuitune.ui.screens.form_screen import FormScreen
from tuitune.ui.widgets.live_text import LiveText
from tuitune.ui.widgets.ticks import FormSelectionList

#: Returns an error line for the command arguments, or None when they are valid.
HandoffChecker = Callable[[dict[str, Any]], str | None]


class HandoffForm(FormScreen[dict[str, Any] | None]):
    """Returns the `handoff` command's arguments."""

    BINDINGS = [
        Binding("escape,ctrl+c", "cancel", "Cancel", show=False, priority=True),
        Binding("enter", "submit", "Start", show=False),
    ]

    def __init__(self, strategies: Sequence[str], current: str, used: Callable[[], int],
                 max_trials: int | None, max_concurrent: int, checker: HandoffChecker,
                 rules: Sequence[str] = (), current_rules: RuleConfig | None = None) -> None:
        super().__init__()
        self.strategies = list(strategies)
        self.current_rules = list(current_rules or [])
        chosen = [name for name, _ in self.current_rules]
        self.rules = chosen + [name for name in rules if name not in chosen]
        self.current = current
        self.used = used
        self.max_trials = max_trials
        self.max_concurrent = max_concurrent
        self.checker = checker

    def _now(self) -> str:
        """What runs now; the trials so far read again at every poll (`used`)."""
        return (f"now: {self.current} · {self.used()} trials so far"
                + (f" of {self.max_trials}" if self.max_trials else "")
                + f" · stopping: {describe(self.current_rules)}")

    def compose(self) -> ComposeResult:
        left = (self.max_trials - self.used()) if self.max_trials else 0
        more = left if left > 0 else 10
        with Vertical(classes="dialog form"):
            yield Label("Hand off the search", classes="dialog-title")
            yield LiveText(self._now, classes="dialog-hint")
            chosen = {name for name, _ in self.current_rules}
            with Horizontal(id="lists"):
                yield OptionList(*[Option(name + ("  (you start every trial)"
                                                  if name == "manual" else ""), id=name)
                                   for name in self.strategies], id="strategy")
                rules = FormSelectionList(*[(name, name, name in chosen)
                                          for name in self.rules], id="rules")
                rules.border_title = "stopping rules (space)"
                yield rules
            with Horizontal(classes="form-row"):
                yield Label("more trials", classes="form-label")
                yield Input(str(more), id="more", classes="form-input", compact=True)
                yield Label("budget from now on", classes="form-help")
            with Horizontal(classes="form-row"):
                yield Label("at a time", classes="form-label")
                yield Input(str(self.max_concurrent), id="concurrent", classes="form-input",
                            compact=True)
                yield Label("concurrent trials", classes="form-help")
            with Horizontal(classes="form-row"):
                yield Label("options", classes="form-label")
                yield Input("", placeholder="name=value, ...", id="options",
                            classes="form-input", compact=True)
                yield Label("strategy options (optional)", classes="form-help")
            with Horizontal(classes="form-row"):
                yield Label("rule options", classes="form-label")
                yield Input(format_rule_options(self.current_rules),
                            placeholder="rule.name=value, ...", id="rule-options",
                            classes="form-input", compact=True)
                yield Label("e.g. predict.top_k=5", classes="form-help")
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start (enter)", variant="primary", id="ok", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    #: Tab's order: the strategy and its budget first, as before the rules joined the
    #: form (the rules list sits beside the strategies, but is reached after the fields).
    TAB_ORDER = ("strategy", "more", "concurrent", "options", "rules", "rule-options",
                 "ok", "cancel")

    @property
    def focus_chain(self) -> list[Widget]:
        chain = super().focus_chain
        rank = {name: i for i, name in enumerate(self.TAB_ORDER)}
        return sorted(chain, key=lambda w: rank.get(w.id or "", len(rank)))

    def _default(self) -> str:
        if self.current == "manual":
            return next((s for s in self.strategies if s != "manual"), "manual")
        return "manual"

    def on_mount(self) -> None:
        options = self.query_one("#strategy", OptionList)
        options.highlighted = self.strategies.index(self._default())
        options.focus()

    @property
    def strategy(self) -> str:
        """The highlighted strategy (arrows move it; Enter starts it)."""
        index = self.query_one("#strategy", OptionList).highlighted
        return self.strategies[index] if index is not None else self._default()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_submit()

    def args(self) -> dict[str, Any] | str:
        """The command arguments, or an error line."""
        strategy = self.strategy
        try:
            more = int(self.query_one("#more", Input).value)
            concurrent = int(self.query_one("#concurrent", Input).value)
        except ValueError:
            return "more trials and at a time must be whole numbers"
        if more < 0 or concurrent < 1:
            return "more trials must be 0 or more, at a time at least 1"
        chosen = set(self.query_one("#rules", SelectionList).selected)
        try:
            options = parse_options(self.query_one("#options", Input).value.split(","))
            rules = with_options([name for name in self.rules if name in chosen],
                                 parse_rule_options(
                                     self.query_one("#rule-options", Input).value.split(",")))
        except ValueError as exc:
            return str(exc)
        out: dict[str, Any] = {"strategy": strategy, "options": options,
                               "more": more, "max_concurrent": concurrent}
        if rules != self.current_rules:  # unchanged rules keep their state
            out["rules"] = [[name, opts] for name, opts in rules]
        return out

    def action_submit(self) -> None:
        args = self.args()
        error = args if isinstance(args, str) else self.checker(args)
        line = self.query_one("#form-error", Static)
        line.update(error or "")
        line.set_class(bool(error), "shown")
        if error is None and isinstance(args, dict):
            self.dismiss(args)
