"""The help screen (issue 14, item 5): the app's own keys grouped by screen, two
aligned columns, Textual's generic editing keys in one line."""

from __future__ import annotations

import io

from rich.console import Console
from ui_helpers import make_fixed_app, open_screen, settle, wait_for

from tuitune.ui.screens.help import EDITING_KEYS, HelpScreen, render_groups


async def _open_help(app, pilot) -> HelpScreen:
    await settle(pilot, app)
    return await open_screen(pilot, app, "question_mark", HelpScreen)


async def test_help_groups_the_apps_keys_by_screen(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(80, 24)) as pilot:
        help_screen = await _open_help(app, pilot)
        titles = [g.title for g in help_screen.groups]
        assert titles[:3] == ["Trials", "Anywhere", "Text fields"]
        assert {"Trial detail (enter on a trial)", "GPUs (g)", "Insight (i)"} <= set(titles)
        descriptions = [d for _, d in help_screen.rows]
        # The filter box's ~45 editing keys are one line, not one line each.
        assert help_screen.groups[2].rows == (("editing", EDITING_KEYS),)
        for generic in ("Delete all to the left", "Move cursor left a word and select",
                        "Scroll Up", "Paste text from the clipboard"):
            assert generic not in descriptions
        # No key is listed twice for one thing in a group; the table's own keys are there.
        for group in help_screen.groups:
            assert len(group.rows) == len({d for _, d in group.rows}), group.title
        assert "Open the trial" in descriptions
        # Another screen's group lists what that screen adds, not the hand actions again.
        detail = next(g for g in help_screen.groups if g.title.startswith("Trial detail"))
        assert "Kill the selected trial (asks first)" not in [d for _, d in detail.rows]
        assert ("1", "Curves") in detail.rows


async def test_wrapped_descriptions_stay_in_their_column(fixed_run):
    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(80, 24)) as pilot:
        help_screen = await _open_help(app, pilot)
        groups = help_screen.groups
    key_width = max(len(k) for g in groups for k, _ in g.rows)
    out = io.StringIO()
    Console(file=out, width=56, color_system=None).print(render_groups(groups))
    lines = out.getvalue().splitlines()
    titles = {g.title for g in groups}
    wrapped = 0
    for line in lines:
        if not line.strip() or line.strip() in titles:
            continue
        keys, gap, desc = line[:key_width], line[key_width:key_width + 2], line[key_width + 2:]
        assert gap == "  " and desc[:1] not in ("", " "), repr(line)
        wrapped += not keys.strip()
    assert wrapped >= 3  # at 56 columns several descriptions wrap, all under their column


async def test_every_key_the_run_and_detail_screens_bind_is_in_their_help(fixed_run):
    """shift+← and shift+→ (the detail screen's cursor, ten steps at a time) had no
    description, so the help left them out: keys of the app's only the docs mentioned."""
    from textual.binding import Binding

    from tuitune.ui.screens.detail import DetailScreen
    from tuitune.ui.screens.run_screen import RunScreen

    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(80, 24)) as pilot:
        for screen_type, keys in ((RunScreen, ()), (DetailScreen, ("enter",))):
            await settle(pilot, app)
            await pilot.press(*keys)
            await wait_for(pilot, lambda t=screen_type: isinstance(app.screen, t),
                           what=screen_type.__name__)
            await pilot.pause(0.2)
            await pilot.press("question_mark")
            help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen)
                                         and app.screen, what="the help")
            listed = {key for group in help_screen.groups for shown, _ in group.rows
                      for key in shown.split()}
            for binding in screen_type.BINDINGS:
                if isinstance(binding, Binding):
                    for key in binding.key.split(","):
                        shown = app.get_key_display(Binding(key, binding.action))
                        assert shown in listed, (screen_type.__name__, key, sorted(listed))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_a_screen_with_only_scrolling_panes_has_no_text_fields_group(fixed_run):
    """The detail screen has no field to type in: its help said "Text fields" with the
    editing keys all the same (seen in tmux); it now lists how its panes scroll."""
    from tuitune.ui.screens.detail import DetailScreen
    from tuitune.ui.screens.help import SCROLL_KEYS

    app = make_fixed_app(fixed_run)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="detail")
        await pilot.pause(0.2)
        help_screen = await _open_help(app, pilot)
        groups = {g.title: g.rows for g in help_screen.groups}
        assert "Text fields" not in groups
        assert groups["Panes"] == (("scroll", SCROLL_KEYS),)
