"""Snapshots of the run screen of a Ray run: the system panel with every node
(current, stale, without a GPU, lost), from a real store with fixed nodes, a fixed
clock, a fake local GPU source and a fixed host reading.

Accept intended changes with `pytest tests/ui/test_ui_ray_nodes_snapshots.py
--snapshot-update` after looking at the HTML report of the differences.
"""

from __future__ import annotations

import pytest
from ray_nodes_data import build_ray_run
from ui_helpers import make_fixed_app, settle, wait_for

from tests.support.extras import NO_RAY
from tuitune.ui.widgets.system_panel import SystemPanel

pytestmark = pytest.mark.usefixtures("utc")


@pytest.mark.parametrize("size,press", [((80, 24), ["v"]), ((160, 48), [])],
                         ids=["80x24", "160x48"])
def test_run_screen_with_ray_nodes(snap_compare, tmp_path, size, press):
    pytest.importorskip("ray", reason=NO_RAY)
    app = make_fixed_app(build_ray_run(tmp_path), gpus=4)

    async def run_before(pilot):
        await settle(pilot, app)
        for key in press:
            await pilot.press(key)
        await wait_for(pilot, lambda: any(
            "10.0.0.4#bbccdd" in line for line in app.screen.query_one(SystemPanel)
            .lines_text()), what="the nodes in the system panel")
        await pilot.pause(0.2)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
