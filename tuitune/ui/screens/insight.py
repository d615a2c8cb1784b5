"""The insight screen (key i): importance, the model's slice, parallel coordinates,
and advice with one key to act on it.

Everything is computed off the UI thread (a worker reads the store and fits the
model) and cached per app until a trial finishes. Acting sends the engine's own
commands (`space` for zoom/widen/fix/boundary, `tweak` for a plateau, `kill` for
overfitting) through the app, as every hand action does; the screen itself
changes nothing.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuitune.core.history import FINISHED_STATES
from tuitune.core.space import Space
from tuitune.ui.context import Frame, OnRun, SendCommand, watch_frames
from tuitune.ui.screens.insight_draw import (
    advice_text,
    front_text,
    importance_text,
    parallel_text,
    slice_text,
)

if TYPE_CHECKING:  # the insight package pulls in scipy: loaded by the worker, not here
    from tuitune.insight.model import ModelSlice
    from tuitune.insight.report import Insight

#: After a space edit is sent, look again this many seconds later (the edit does
#: not finish a trial, so the cache key alone would not notice it).
RECHECK_AFTER_S = (1.5, 4.0)
#: Rows the title, the slice and parallel coordinates (their least heights and
#: borders) and the footer take: the advice panel gets the rest.
ROWS_BELOW_TOP = 18


@dataclass
class Computed:
    """What the worker found for one cache key; slices arrive after the rest."""

    key: tuple[int, ...]
    insight: Insight | None = None
    space: Space | None = None
    slices: dict[str, ModelSlice | None] = field(default_factory=dict)
    model_done: bool = False
    error: str = ""
    #: Several objectives: (objective 1, objective 2, mark) per trial (client/front.py).
    front: list[tuple[float, float, str]] | None = None


#: One cache per app: reopening the screen shows the last result at once.
_CACHE: weakref.WeakKeyDictionary[Any, Computed] = weakref.WeakKeyDictionary()


class InsightRead(Message):
    """The worker's result (partial until `computed.model_done`)."""

    def __init__(self, computed: Computed) -> None:
        super().__init__()
        self.computed = computed


def finished_key(rows: Any) -> tuple[int, ...]:
    """Which trials have finished: the cache holds until this changes."""
    return tuple(sorted(r.id for r in rows.values() if r.state in FINISHED_STATES))


class InsightScreen(OnRun, Screen):
    """What matters, what the model believes, what to try next."""

    HELP_TITLE = "Insight (i)"

    DEFAULT_CSS = """
    InsightScreen { layout: vertical; }
    InsightScreen #insight-title { height: 1; background: $panel; }
    InsightScreen #insight-top { height: auto; max-height: 45%; }
    InsightScreen #importance { width: 1fr; height: auto; padding-right: 1; }
    InsightScreen #advice { width: 1fr; height: auto; border-left: vkey $primary 30%;
                            padding-left: 1; }
    InsightScreen #slice { height: 1fr; min-height: 8; border-top: hkey $primary 30%; }
    InsightScreen #parallel { height: 1fr; min-height: 6; border-top: hkey $primary 30%; }
    """

    BINDINGS = [
        Binding("up", "advice(-1)", "Previous advice", show=False),
        Binding("down", "advice(1)", "Next advice", show=False),
        Binding("enter", "act", "Act on advice",
                tooltip="Send the selected advice's command to the engine"),
        Binding("left", "param(-1)", "Previous parameter", show=False),
        Binding("right", "param(1)", "Next parameter", show=False,
                tooltip="The slice shows the next parameter"),
        Binding("plus,equals_sign", "n_best(5)", "More lines", show=False,
                tooltip="Parallel coordinates: 5 more of the best trials"),
        Binding("minus", "n_best(-5)", "Fewer lines", show=False,
                tooltip="Parallel coordinates: 5 fewer"),
        Binding("c", "compare", "Compare the best",
                tooltip="The best 3 trials side by side: parameters, curves, tweaks"),
        Binding("b,q,escape", "back", "Back", tooltip="Back to the trial table"),
        Binding("question_mark,f1", "app.help", "Help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected_advice = 0
        #: The advice chosen with the arrows, (kind, title): a new result keeps it
        #: selected (None: the first advice is, whichever it is).
        self._selected_id: tuple[str, str] | None = None
        self.param_index = 0
        self.n_best = 10
        self._computing: tuple[int, ...] | None = None  # the key being computed
        self._again = False  # compute again when it is done
        self.shown_at: float | None = None  # when the screen was first on the terminal
        self.drawn: Computed | None = None  # the result on screen now

    def compose(self) -> ComposeResult:
        yield Static(id="insight-title")
        with Horizontal(id="insight-top"):
            yield Static(id="importance")
            yield Static(id="advice")
        yield Static(id="slice")
        yield Static(id="parallel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        watch_frames(self, self._draw_frame)
        self.draw()
        # The worker starts once the screen is on the terminal: its first run imports
        # scipy, and loading those extension modules holds the GIL for a second or two.
        self.call_after_refresh(self._shown)

    def _shown(self) -> None:
        self.shown_at = time.perf_counter()
        self._refresh_data()

    def on_resize(self) -> None:
        self.draw()

    # -- data ---------------------------------------------------------------------------
    @property
    def computed(self) -> Computed | None:
        return _CACHE.get(self.app)

    def _draw_frame(self, frame: Frame) -> None:
        """After each store poll: recompute once a trial finished."""
        if frame.polled:
            self._refresh_data()

    def _refresh_data(self, force: bool = False) -> None:
        key = finished_key(self.run.view.rows)
        cached = self.computed
        if not force and cached is not None and cached.key == key and cached.model_done:
            return
        if self._computing is not None:  # one at a time; its answer looks again
            self._again = self._again or force or self._computing != key
            return
        self._computing, self._again = key, False
        app, run_dir, spec = self.app, self.run.run_dir, self.run.spec

        def work() -> None:
            compute(app, self, run_dir, spec, key)

        self.run_worker(work, name="insight", group="insight", thread=True, exit_on_error=False)

    def on_insight_read(self, message: InsightRead) -> None:
        computed = message.computed
        self.draw()
        if computed.model_done:
            self._computing = None
            if self._again:  # trials finished (or an edit was sent) meanwhile
                self._refresh_data(force=True)

    # -- drawing ------------------------------------------------------------------------
    def draw(self) -> None:
        if not self.is_mounted:
            return
        computed = self.computed
        title = self.query_one("#insight-title", Static)
        if computed is None or computed.insight is None:
            what = computed.error if computed and computed.error else "computing…"
            title.update(f" Insight · {what}")
            return
        insight, space = computed.insight, computed.space
        assert space is not None
        self.drawn = computed
        step = "" if insight.common_step is None else f" · at step {insight.common_step}"
        model = "" if computed.model_done else " · fitting the model…"
        imported = sum(p.id < 0 for p in insight.points)  # a warm start's (negative ids)
        what = f"{len(insight.points)} finished trials" + (
            f" ({imported} imported)" if imported else "")
        title.update(f" Insight · {what}{step}{model}"
                     + (f" · {computed.error}" if computed.error else ""))
        params = list(space.dims)
        if not params:
            return
        self.param_index %= len(params)
        param = params[self.param_index]
        width = max(self.size.width - 2, 20)
        self.query_one("#importance", Static).update(
            importance_text(insight.importance, width // 2 - 1, param.name))
        self._reselect(insight.advice)
        # Room for the slice and the parallel coordinates' least heights under it.
        self.query_one("#advice", Static).update(advice_text(
            insight.advice, self.selected_advice, width // 2 - 2,
            max(self.size.height - ROWS_BELOW_TOP, 4)))
        box = self.query_one("#slice", Static)
        self.query_one("#slice", Static).update(
            slice_text(insight.points, param, computed.slices.get(param.name),
                       width, max(box.size.height, 8), insight.mode))
        from tuitune.insight.parallel import parallel_coordinates  # loaded by the worker

        par_box = self.query_one("#parallel", Static)
        objectives = self.app.spec.all_objectives
        if computed.front is not None and len(objectives) > 1:  # the front in their plane
            names = (f"{objectives[0].metric} ({objectives[0].mode})",
                     f"{objectives[1].metric} ({objectives[1].mode})")
            par_box.update(front_text(computed.front, names, width,
                                      max(par_box.size.height, 6)))
            return
        par = parallel_coordinates(list(insight.points), space, self.n_best)
        par_box.update(parallel_text(par, width, max(par_box.size.height, 6), self.n_best))

    def _reselect(self, advice: Any) -> None:
        """Keep the advice chosen with the arrows selected when a new result reorders
        the list (the model's zoom arrives first in it; a finished trial changes the
        rest): the same title, else the same kind, else the same place."""
        ids = [(a.kind, a.title) for a in advice]
        chosen = self._selected_id
        if chosen in ids:
            self.selected_advice = ids.index(chosen)  # type: ignore[arg-type]
        elif chosen is not None and chosen[0] in (kind for kind, _ in ids):
            self.selected_advice = [kind for kind, _ in ids].index(chosen[0])
        self.selected_advice = min(self.selected_advice, max(len(ids) - 1, 0))
        if chosen is not None and ids:
            self._selected_id = ids[self.selected_advice]

    # -- keys ---------------------------------------------------------------------------
    def action_advice(self, delta: int) -> None:
        c = self.drawn
        if c is not None and c.insight is not None and c.insight.advice:
            self.selected_advice = (self.selected_advice + delta) % len(c.insight.advice)
            a = c.insight.advice[self.selected_advice]
            self._selected_id = (a.kind, a.title)
            self.draw()

    def action_param(self, delta: int) -> None:
        self.param_index += delta
        self.draw()

    def action_n_best(self, delta: int) -> None:
        self.n_best = min(max(self.n_best + delta, 1), 200)
        self.draw()

    def action_act(self) -> None:
        c = self.drawn  # what the user sees, not a result the worker has just cached
        if c is None or c.insight is None or not c.insight.advice:
            self.app.notify("no advice to act on", timeout=2)
            return
        advice = c.insight.advice[self.selected_advice]
        if advice.command is None:
            self.app.notify("this advice has nothing to send", timeout=2)
            return
        self.post_message(SendCommand(advice.command, dict(advice.args)))
        if advice.command == "space":
            for delay in RECHECK_AFTER_S:
                self.set_timer(delay, lambda: self._refresh_data(force=True))

    def action_compare(self) -> None:
        from tuitune.ui.screens.insight_compare import CompareScreen

        c = self.drawn  # the trials on screen, not a result the worker has just cached
        if c is None or c.insight is None:
            return
        best = sorted((p for p in c.insight.points if p.value is not None),
                      key=lambda p: (p.loss, p.id))[:3]
        if len(best) < 2:
            self.app.notify("comparing needs two finished trials with a value", timeout=2)
            return
        self.app.push_screen(CompareScreen([p.id for p in best]))

    def action_back(self) -> None:
        self.app.pop_screen()


def compute(app: Any, screen: Screen, run_dir: Any, spec: Any, key: tuple[int, ...]) -> None:
    """The worker: insight first (fast), then the model's slices. Each result goes
    into the app's cache (one assignment of a finished object) and the screen is
    told to draw it; a screen closed meanwhile still leaves the cache filled."""
    from tuitune.client.insight_feed import run_inputs
    from tuitune.insight import build_insight
    from tuitune.insight.model import RunModel
    from tuitune.store import RunStore

    computed = Computed(key)
    try:
        store = RunStore(run_dir)
        try:
            history, space, curves = run_inputs(store, spec)
            front = pareto_points(store, spec)
        finally:
            store.close()
        computed.insight, computed.space = build_insight(history, space, 10, curves), space
        computed.front = front
        if _CACHE.get(app) is None:  # a first answer at once; a refresh keeps the old one
            _CACHE[app] = computed  # on screen until the new one is complete
            screen.post_message(InsightRead(computed))
        model = RunModel(space, history, seed=spec.search.seed)
        insight = build_insight(history, space, 10, curves, model)
        slices = {p.name: model.slice(p.name) for p in space.dims}
        computed = Computed(key, insight, space, slices, model_done=True, front=front)
    except Exception as exc:  # one line on the screen; the app goes on
        computed = Computed(key, computed.insight, computed.space, computed.slices,
                            model_done=True, error=f"{type(exc).__name__}: {exc}",
                            front=computed.front)
    _CACHE[app] = computed
    screen.post_message(InsightRead(computed))


def pareto_points(store: Any, spec: Any) -> list[tuple[float, float, str]] | None:
    """With several objectives, each trial's first two objectives and its mark."""
    from tuitune.client import front

    if len(spec.all_objectives) < 2:
        return None
    return [(o.values[0], o.values[1], front.marks(o)) for o in front.outcomes(store, spec)]
