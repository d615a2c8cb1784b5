"""The system panel of a Ray run: every node's GPUs and host, with the age of its
sample, read from a real run store (meta key `ray_nodes`, as the supervisor writes
it). No Ray process runs; the run's spec names the Ray executor, so Ray must be
importable."""

from __future__ import annotations

import contextlib
import math

import pytest
from ray_nodes_data import build_ray_run, ray_nodes
from ui_helpers import FIXED_NOW, FixedClock, fixed_host, make_fixed_app, settle, wait_for

from tests.support.extras import NO_RAY
from tuitune.store import RunStore
from tuitune.system import FakeGpuSource
from tuitune.system.sampler import HOST_CPU_KEY, gpu_util_key
from tuitune.ui.node_feed import NodeFeed, NodeHistory, NodeState, NodesView, parse_nodes
from tuitune.ui.widgets.lines import to_strip
from tuitune.ui.widgets.node_lines import draw_nodes
from tuitune.ui.widgets.system_panel import SystemPanel


def _text(lines, width):
    assert all(sum(len(text) for text, _ in line) <= width for line in lines)  # never cut
    return [to_strip(line, width).text.rstrip() for line in lines]


# -- the feed: records and ages -------------------------------------------------------------
def test_states_follow_the_age_of_each_sample_and_the_node_liveness():
    view = NodesView(parse_nodes(ray_nodes()), FIXED_NOW)
    states = {n.label: view.state(n) for n in view.nodes}
    assert [(s.word, s.age) for s in states.values()] == [
        ("current", 1.0), ("stale", 30.0), ("current", 2.0), ("lost", 120.0)]
    later = NodesView(view.nodes, FIXED_NOW + 10)
    assert all(not later.state(n).current for n in later.nodes)  # nothing new: all old


def test_malformed_entries_are_skipped_and_unsampled_nodes_wait():
    nodes = parse_nodes([{"node_id": "x" * 8, "ip": "10.1.1.1"}, "junk",
                         {"node": "bad", "gpus": [{"no index": 1}]}])
    (node,) = nodes
    assert node.label == "10.1.1.1#xxxxxx" and node.gpu_status is None
    assert NodesView(nodes, FIXED_NOW).state(node).word == "waiting"
    assert parse_nodes(None) == () and parse_nodes({"a": 1}) == ()


def test_history_grows_only_with_new_samples():
    history = NodeHistory()
    nodes = parse_nodes(ray_nodes())
    history.add(nodes)
    again = history.add(nodes)  # the same samples read a second time
    assert again["a1b2c3d4"][gpu_util_key(0)] == (95.0,)
    assert again["a1b2c3d4"][HOST_CPU_KEY] == (62.0,)
    newer = parse_nodes(ray_nodes(FIXED_NOW + 1))
    assert history.add(newer)["a1b2c3d4"][gpu_util_key(0)] == (95.0, 95.0)


def test_feed_reads_the_store_and_none_while_nothing_is_published(tmp_path):
    pytest.importorskip("ray", reason=NO_RAY)
    run_dir = build_ray_run(tmp_path, nodes=[])
    store = RunStore(run_dir)
    store._conn.execute("DELETE FROM meta WHERE key = 'ray_nodes'")  # noqa: SLF001
    store._conn.commit()  # noqa: SLF001
    feed = NodeFeed(run_dir, FixedClock())
    try:
        assert feed.read() is None
        store.set_meta(ray_nodes=ray_nodes())
        view = feed.read()
        assert [n.label for n in view.nodes] == [
            "10.0.0.1#a1b2c3", "10.0.0.2#d4e5f6", "10.0.0.3#778899", "10.0.0.4#bbccdd"]
        assert view.nodes[0].gpus[0].power_limit_w == 700.0
    finally:
        feed.close()
        store.close()


def test_one_bad_value_leaves_the_node_shown_with_that_value_unknown():
    raw = ray_nodes()
    raw[0]["host"]["cpu_pct"] = None
    raw[0]["gpus"][0]["util_pct"] = "n/a"
    raw[2]["host"]["ram_total_mb"] = "lots"
    raw[2]["seen"] = "yesterday"
    nodes = {n.label: n for n in parse_nodes(raw)}
    assert list(nodes) == ["10.0.0.1#a1b2c3", "10.0.0.2#d4e5f6", "10.0.0.3#778899",
                           "10.0.0.4#bbccdd"]
    first, third = nodes["10.0.0.1#a1b2c3"], nodes["10.0.0.3#778899"]
    assert math.isnan(first.host.cpu_pct) and first.host.ram_used_mb == 100_000
    assert first.gpus[0].util_pct is None and first.gpus[0].temp_c == 71.0
    assert first.gpus[1].util_pct == 40.0
    assert math.isnan(third.host.ram_total_mb) and third.seen is None
    # Drawn as unknown, never as "nan": in full and collapsed to a line.
    view = NodesView(parse_nodes(raw), FIXED_NOW)
    for height in (40, 6):
        text = "\n".join(_text(draw_nodes(view, 120, height), 120))
        assert "nan" not in text.lower() and "n/a" in text


def _put_raw_nodes(run_dir, sql_value: str) -> None:
    """Writes the meta value as SQL (bytes that are not JSON, or not even UTF-8)."""
    store = RunStore(run_dir)
    try:
        store._conn.execute(f"UPDATE meta SET value = {sql_value} "  # noqa: SLF001
                            "WHERE key = 'ray_nodes'")
        store._conn.commit()  # noqa: SLF001
    finally:
        store.close()


def test_feed_retries_an_unparsable_value_and_ages_the_last_nodes(tmp_path):
    pytest.importorskip("ray", reason=NO_RAY)
    run_dir = build_ray_run(tmp_path)
    clock = FixedClock()
    feed = NodeFeed(run_dir, clock)
    try:
        assert feed.aged() is None  # nothing read yet
        first = feed.read()
        assert first.state(first.nodes[0]).word == "current"
        _put_raw_nodes(run_dir, "'[{\"node\": '")  # cut short
        for _ in range(2):  # not parsed once and then taken as read
            with pytest.raises(ValueError):
                feed.read()
        clock.t += 10
        aged = feed.aged()
        assert aged.nodes == first.nodes and aged.now == FIXED_NOW + 10
        assert aged.state(aged.nodes[0]) == NodeState("stale", 11.0)
        fresh = ray_nodes(clock.t)
        fresh[0]["gpus"][0]["util_pct"] = 12.0
        store = RunStore(run_dir)
        store.set_meta(ray_nodes=fresh)
        store.close()
        view = feed.read()
        assert view.nodes[0].gpus[0].util_pct == 12.0
        assert view.state(view.nodes[0]) == NodeState("current", 1.0)
    finally:
        feed.close()


# -- drawing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [40, 80, 200])
def test_full_blocks_when_they_fit_one_line_each_when_not(width):
    view = NodesView(parse_nodes(ray_nodes()), FIXED_NOW)
    full = _text(draw_nodes(view, width, 40), width)
    assert len(full) == 4 + 3 + 3 + 3  # a title, GPUs or "no NVIDIA GPU", the host
    assert full[0].startswith(" 10.0.0.1#a1b2c3  2 trials") and full[0].endswith("1s ago")
    assert full[1].split()[:3] == ["0", "util", "95%"]
    assert "stale" in full[4] and "30s" in full[4]
    assert full[7].strip() == "10.0.0.3#778899  2s ago" and "no NVIDIA GPU" in full[8]
    assert "lost" in full[10] and "2m00s" in full[10]
    collapsed = _text(draw_nodes(view, width, 6), width)
    assert len(collapsed) == 4
    assert [line.split()[0] for line in collapsed] == [n.label for n in view.nodes]
    assert collapsed[1].endswith("stale 30s") and collapsed[3].endswith("lost 2m00s")


def test_more_nodes_than_lines_says_how_many_are_left_out():
    many = [dict(n, node_id=f"{i:08x}", node=f"10.0.1.{i}#{i:06x}") for i in range(12)
            for n in ray_nodes()[3:]]  # twelve dead nodes
    view = NodesView(parse_nodes(many), FIXED_NOW)
    lines = _text(draw_nodes(view, 80, 6), 80)
    assert len(lines) == 6
    assert lines[-1].strip() == "… 7 more nodes (7 not current)"


# -- the app -------------------------------------------------------------------------------
def _ray_app(run_dir, clock):
    from tuitune.ui.factory import build_app

    return build_app(run_dir, clock=clock, gpu_source=FakeGpuSource(2), host=fixed_host,
                     steady=True, poll_interval=0.2, system_interval=0.2)


def _panel(app) -> list[str]:
    return [line.rstrip() for line in app.screen.query_one(SystemPanel).lines_text()]


@contextlib.asynccontextmanager
async def _watching_nodes(tmp_path):
    """A Ray run's app at 200x50 with every node in its panel: (pilot, app, run, clock)."""
    pytest.importorskip("ray", reason=NO_RAY)
    run_dir = build_ray_run(tmp_path)
    clock = FixedClock()
    app = _ray_app(run_dir, clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: any("10.0.0.4#bbccdd" in t for t in _panel(app)),
                       what="the nodes in the system panel")
        yield pilot, app, run_dir, clock


async def test_run_screen_shows_every_node_and_ages_move_without_new_samples(tmp_path):
    async with _watching_nodes(tmp_path) as (pilot, app, run_dir, clock):
        text = _panel(app)
        start = text.index(" this machine (the supervisor's)")
        titles = [t.strip() for t in text[start:] if t.startswith(" 10.0.0.")]
        assert titles == ["10.0.0.1#a1b2c3  2 trials  1s ago",
                          "10.0.0.2#d4e5f6  1 trial  stale: 30s old",
                          "10.0.0.3#778899  2s ago",
                          "10.0.0.4#bbccdd  1 trial  lost: node died, 2m00s old"]
        assert any("no NVIDIA GPU" in t for t in text)
        a = text.index(" 10.0.0.1#a1b2c3  2 trials  1s ago")
        assert "550/700W" in text[a + 1] and "71C" in text[a + 1] and "39.1G/80.0G" in text[a + 1]

        clock.t += 10  # the supervisor went quiet: the same samples, ten seconds older
        await wait_for(pilot, lambda: any("10.0.0.1#a1b2c3  2 trials  stale: 11s old" in t
                                          for t in _panel(app)), what="node 1 stale")

        fresh = ray_nodes(clock.t)  # and it speaks again, with a new reading
        fresh[0]["gpus"][0]["util_pct"] = 12.0
        store = RunStore(run_dir)
        store.set_meta(ray_nodes=fresh)
        store.close()
        await wait_for(pilot, lambda: any("10.0.0.1#a1b2c3  2 trials  1s ago" in t
                                          for t in _panel(app)), what="node 1 current")
        text = _panel(app)
        a = text.index(" 10.0.0.1#a1b2c3  2 trials  1s ago")
        assert text[a + 1].split()[:3] == ["0", "util", "12%"]


async def test_nodes_turn_stale_while_the_store_cannot_be_read(tmp_path):
    async with _watching_nodes(tmp_path) as (pilot, app, run_dir, clock):
        assert any("10.0.0.1#a1b2c3  2 trials  1s ago" in t for t in _panel(app))
        _put_raw_nodes(run_dir, "CAST(x'ff' AS TEXT)")  # every read fails: not UTF-8
        clock.t += 10
        await wait_for(pilot, lambda: any("10.0.0.1#a1b2c3  2 trials  stale: 11s old" in t
                                          for t in _panel(app)), what="node 1 stale")


async def test_small_terminal_collapses_nodes_to_a_line_each(tmp_path):
    pytest.importorskip("ray", reason=NO_RAY)
    app = _ray_app(build_ray_run(tmp_path), FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("v")  # the system pane instead of the chart
        await wait_for(pilot, lambda: any(t.startswith(" 10.0.0.4#") for t in _panel(app)),
                       what="the nodes in the system pane")
        lines = [t for t in _panel(app) if t.startswith(" 10.0.0.")]
        assert [t.split()[0] for t in lines] == [
            "10.0.0.1#a1b2c3", "10.0.0.2#d4e5f6", "10.0.0.3#778899", "10.0.0.4#bbccdd"]
        assert lines[1].endswith("stale 30s") and lines[3].endswith("lost 2m00s")
        assert "no NVIDIA GPU" in lines[2] and all(len(t) <= 80 for t in lines)


async def test_a_local_run_reads_no_nodes(fixed_run):
    app = make_fixed_app(fixed_run, gpus=2)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        assert app.node_loop is None and app.view.nodes is None
        assert not any("this machine" in t for t in _panel(app))
