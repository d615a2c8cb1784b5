"""The command palette, opened for real (ctrl+p) on every screen, and every one of our
commands run from it: no crash (a `/` key once became the markup `[/]` and took the
app down), each key shown, each command running its action."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette
from ui_helpers import burst, fixed_host, make_app, new_trial, settle, wait_for

from tuitune.system import FakeGpuSource
from tuitune.ui.factory import build_monitor
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.screens.gpu_screen import GpuScreen
from tuitune.ui.screens.run_screen import RunScreen

SIZE = (120, 40)
#: Commands not run from the palette here, and why.
NOT_RUN = {
    "Detach": "quits the app (test_ui_actions covers q)",
    "Detach (trials keep running)": "the same, by ctrl+q",
    "Quit": "quits the app",
    "Back": "leaves the screen: run last, on its own",
}


def _ours(app, screen) -> dict[str, tuple[str, str]]:
    """The keyed actions in reach on `screen` (the focused widget, its containers, the
    app): title -> (action, the key as the palette should show it)."""
    out: dict[str, tuple[str, str]] = {}
    focused = screen.focused
    for node in focused.ancestors_with_self if focused is not None else (screen, app):
        for _key, binding in node._bindings:
            if binding.description and binding.description not in out:
                out[binding.description] = (binding.action, app.get_key_display(binding))
    return out


async def _open_palette(pilot, app) -> CommandPalette:
    await pilot.press("ctrl+p")
    return await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen,
                          what="the palette")


async def _search(pilot, app, palette: CommandPalette, title: str):
    """Type a command's title; the highlighted option once it is that command."""
    burst(app, *title)
    commands = palette.query_one(CommandList)

    def exact():
        i = commands.highlighted
        if i is None or commands.option_count == 0:
            return None
        option = commands.get_option_at_index(i)
        return option if option.hit.text == title else None

    await wait_for(pilot, lambda: commands.option_count > 0
                   and palette.query_one("CommandInput").value == title,
                   what=f"hits for {title!r}")
    for _ in range(commands.option_count):
        if exact():
            break
        await pilot.press("down")
    assert exact(), f"{title!r} is not among the palette's hits"
    return exact()


def _shown(option) -> str:
    """The option's text as the palette draws it (markup applied)."""
    return option.prompt.plain


async def _check_every_command(pilot, app, home) -> None:
    ran: list[str] = []
    original = app.run_action

    async def spy(action, default_namespace=None):
        ran.append(action if isinstance(action, str) else repr(action))
        return await original(action, default_namespace)

    app.run_action = spy
    for title, (action, key) in _ours(app, home).items():
        if title in NOT_RUN:
            continue
        palette = await _open_palette(pilot, app)
        shown = _shown(await _search(pilot, app, palette, title))
        assert shown.startswith(title) and f"[{key}]" in shown, (title, shown)
        ran.clear()
        await pilot.press("enter")
        await wait_for(pilot, lambda: action in ran, what=f"{title!r} to run {action}")
        # close whatever it opened (a form, a dialog, a screen) and come home
        for _ in range(4):
            if app.screen is home:
                break
            await pilot.press("escape")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: app.screen is home, what=f"home after {title!r}")
    app.run_action = original


@pytest.mark.slow
@pytest.mark.timeout(900)  # grows with the commands: ~10 s each on a loaded machine
async def test_palette_on_every_screen_of_a_run_runs_every_command(live_run):
    """Against a real supervisor: the commands that send (pause, star, LR keys) reach
    the engine; the destructive ones only open their confirmation (escape answers no)."""
    run_dir = live_run.run_dir
    new_trial(run_dir, lr=0.02)
    app = make_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: app.screen.table.cursor_id is not None, what="a row")
        home = app.screen
        assert isinstance(home, RunScreen)
        await _check_every_command(pilot, app, home)
        await pilot.press("enter")
        detail = await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                                and app.screen, what="the detail screen")
        await _check_every_command(pilot, app, detail)
        palette = await _open_palette(pilot, app)
        await _search(pilot, app, palette, "Back")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is home, what="back from the palette")
        await pilot.press("g")
        gpus = await wait_for(pilot, lambda: isinstance(app.screen, GpuScreen) and app.screen)
        await _check_every_command(pilot, app, gpus)
        assert app.is_running


async def test_palette_in_the_gpu_monitor():
    app = build_monitor(gpu_source=FakeGpuSource(2), host=fixed_host, system_interval=60.0)
    async with app.run_test(size=(100, 30)) as pilot:
        gpus = await wait_for(pilot, lambda: isinstance(app.screen, GpuScreen) and app.screen)
        palette = await _open_palette(pilot, app)
        shown = _shown(await _search(pilot, app, palette, "End orphan process"))
        assert "[K]" in shown, shown
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is gpus)
        assert app.is_running
