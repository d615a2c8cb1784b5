"""The help screen: the app's own keys, grouped by screen, in two aligned columns.

The screen it was opened from comes first (its own keys and its widgets'), then
the keys that work anywhere, then the other screens. Textual's generic editing
and scrolling keys (about 45 of them on a text field) are one line: they are the
keys every text box has, not the app's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Static, TextArea

#: What the generic keys of text fields and scrolling panes come down to.
SCROLL_KEYS = "arrows, pgup/pgdn, home/end"
EDITING_KEYS = ("arrows, home/end, ctrl+←/→ by word, shift+key selects, ctrl+a/e line "
                "start/end, ctrl+u/k/w delete, ctrl+x/c/v cut, copy, paste; panes scroll "
                f"with {SCROLL_KEYS}")


@dataclass(frozen=True)
class KeyGroup:
    """One heading of the help: its (keys, description) rows."""

    title: str
    rows: tuple[tuple[str, str], ...]


def _declared(node_type: type, package: str) -> set[tuple[str, str]]:
    """(action, description) of the bindings that classes of `package` declare."""
    out: set[tuple[str, str]] = set()
    for cls in node_type.__mro__:
        if cls.__module__.split(".")[0] != package:
            continue
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding):
                out.add((b.action, b.description))
            else:  # a (key, action, description) tuple
                out.add((b[1], b[2] if len(b) > 2 else ""))
    return out


def _textuals(node_type: type) -> set[tuple[str, str]]:
    """Bindings Textual declares and tuitune does not redeclare."""
    return _declared(node_type, "textual") - _declared(node_type, "tuitune")


def screen_title(screen_type: type) -> str:
    return getattr(screen_type, "HELP_TITLE", None) or screen_type.__name__.removesuffix("Screen")


class _Rows:
    """(keys, description) rows in first-seen order, keys of one description merged."""

    def __init__(self, app: App, skip: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.skip = skip
        self.keys: dict[str, list[str]] = {}
        self.actions: set[tuple[str, str]] = set()  # (action, key) listed

    def add(self, binding: Binding, unless_in: _Rows | None = None) -> None:
        """Adds the binding's row (not if `unless_in` lists its key for its action)."""
        desc = binding.tooltip or binding.description
        shown = self.app.get_key_display(binding)
        action = (binding.action.removeprefix("app."), shown)
        if not binding.description or desc in self.skip or (
                unless_in is not None and action in unless_in.actions):
            return
        self.actions.add(action)
        keys = self.keys.setdefault(desc, [])
        if shown not in keys:
            keys.append(shown)

    def rows(self) -> tuple[tuple[str, str], ...]:
        return tuple((" ".join(keys), desc) for desc, keys in self.keys.items())


def _bindings(bindings: BindingsMap) -> Iterable[Binding]:
    for _key, binding in bindings:
        yield binding


def key_groups(screen: Screen, others: Iterable[type[Screen]] = ()) -> list[KeyGroup]:
    """The help's groups for `screen`, then for each of `others` (their keys not
    listed already)."""
    app = screen.app
    here, anywhere = _Rows(app), _Rows(app)
    generic = False
    for node in [screen, *screen.query("*")]:
        textual = _textuals(type(node))
        for binding in _bindings(node._bindings):  # noqa: SLF001 - the merged bindings map
            if (binding.action, binding.description) not in textual:
                here.add(binding)
            elif isinstance(node, Screen):
                anywhere.add(binding)  # focus next/previous, copy
            else:
                generic = generic or bool(binding.description)
    for binding in _bindings(app._bindings):  # noqa: SLF001
        anywhere.add(binding, unless_in=here)  # `?` is on the screen's list already
    groups = [KeyGroup(screen_title(type(screen)), here.rows()),
              KeyGroup("Anywhere", anywhere.rows())]
    if screen.query(Input) or screen.query(TextArea):
        groups.append(KeyGroup("Text fields", (("editing", EDITING_KEYS),)))
    elif generic:  # scrolling panes only: no field to edit
        groups.append(KeyGroup("Panes", (("scroll", SCROLL_KEYS),)))
    listed = {d for g in groups for _, d in g.rows}
    for other in others:
        if other is type(screen):
            continue
        rows = _Rows(app, skip=frozenset(listed))
        textual = _textuals(other)
        for binding in _bindings(other._merge_bindings()):  # noqa: SLF001
            if (binding.action, binding.description) not in textual:
                rows.add(binding)
        if rows.keys:
            groups.append(KeyGroup(screen_title(other), rows.rows()))
    return groups


def key_table(screen: Screen) -> list[tuple[str, str]]:
    """(keys, description) of every key of the app's reachable from `screen`."""
    return [row for g in key_groups(screen) for row in g.rows]


def render_groups(groups: list[KeyGroup]) -> RenderableType:
    """Every group under its heading; one key column width for all, descriptions
    wrap in their own column (never back under the keys)."""
    width = max((len(k) for g in groups for k, _ in g.rows), default=4)
    parts: list[RenderableType] = []
    for i, group in enumerate(groups):
        parts.append(Text(("\n" if i else "") + group.title, style="bold"))
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0),
                      expand=True)
        table.add_column(no_wrap=True, width=width, style="cyan")
        table.add_column(ratio=1, overflow="fold")
        for keys, desc in group.rows:
            table.add_row(Text(keys), Text(desc))  # Text: `[` and `/` are keys, not markup
        parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """Lists keys; any of q, ?, F1 or Escape closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", show=False),
    ]

    def __init__(self, for_screen: Screen, intro: str,
                 others: Iterable[type[Screen]] = ()) -> None:
        super().__init__()
        self.groups = key_groups(for_screen, others)
        self.rows = [row for g in self.groups for row in g.rows]
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            yield Static(self.intro, classes="dialog-hint", markup=False)
            with VerticalScroll():
                yield Static(render_groups(self.groups), id="keys")
            yield Static("q, ? or F1 closes · ctrl+p lists every action by name",
                         classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)

