"""Metrics from the output of scripts that do not use tuitune's API.

Understands Keras progress lines (`Epoch 3/10` followed by
`... - loss: 0.41 - accuracy: 0.88 - val_loss: 0.45`) and plain `key=value` or
`key: value` lines (`step=30 loss=0.41`, `epoch 3: val_loss: 0.45`).

Speed: a block of many lines is first sifted in C (string methods and one pattern
that the regex engine finds by a literal, see `_lines_to_read`); only lines that
can hold a pair reach the exact per-line pattern. Parsing is linear in the text (a
key is only tried where a word starts, and nothing backtracks into it), and a line
longer than `MAX_LINE_CHARS` is skipped whole: a script that prints megabytes
without a newline costs the supervisor no more than reading them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from tuitune.core.steps import to_step

#: Longer lines (after Keras's carriage-return redraws are folded) hold no metrics
#: anyone wants; they are skipped, and the caller says so once.
MAX_LINE_CHARS = 16384

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
# The lookbehind starts a key only at the start of a word, and the possessive `*+`
# never gives characters back: without both, a long run of word characters is
# rescanned from every position (quadratic: 54 s for 32,000 characters).
_PAIR = re.compile(
    rf"([A-Za-z_](?<![\w./][A-Za-z_])[\w./]*+)\s*+[=:]\s*+((?>{_NUMBER}))(?=[\s,;|)]|$)",
    re.IGNORECASE)
# What every pair has, read backwards (in the reversed text, ":" turned "="): a
# separator whose next one or two characters can start a number (directly or after
# a space), with a key behind it that starts with a letter; then the rest of the
# line, so one match stands for one line. Timestamps (`12:00`) and prose
# (`WARNING: the`) fail here, inside the regex engine. It starts with a literal,
# so the engine jumps from separator to separator (a pattern that starts with a
# key would be tried at every character: ~20 times slower).
_PAIR_BACKWARDS = re.compile(
    r"=(?<=.[-+.\dinIN]=|[\s\-+.\dinIN]\s=)"
    r"[^\S\n]*+[\w./]*+(?<=[A-Za-z_])[^\n]*",
    re.IGNORECASE | re.DOTALL)
_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*\d+\s*$")
_EPOCH_PREFIX = re.compile(r"^\s*(?:epoch|step|iter(?:ation)?)\s+(\d+)\b", re.IGNORECASE)
_REDRAW = re.compile(r"[\r\b]")
STEP_KEYS = ("step", "global_step", "epoch", "iter", "iteration")
#: Keys that are timings or counters, not metrics.
_IGNORED = frozenset({"eta", "lr_step", "time", "elapsed", "ms", "s", "pid"})
_METRIC, _IGNORED_NAME = len(STEP_KEYS), len(STEP_KEYS) + 1  # kinds of name (else a step key)
_KINDS_KEPT = 4096  # names remembered: output may invent names without end

Point = tuple[int, str, float]


@dataclass
class Lines:
    """What a block of lines said.

    Attributes:
        points: (step, name, value), in output order.
        first: Index of the first line that gave points (-1 if none did).
        state: The parser's state before that line (see `StdoutMetricParser.state`).
    """

    points: list[Point] = field(default_factory=list)
    first: int = -1
    state: dict[str, Any] = field(default_factory=dict)


class StdoutMetricParser:
    """Turns a trial's output lines into (step, name, value) points, statefully.

    Args:
        not_metrics: Names that are never metrics here (the run's parameters, which
            scripts often echo at start, and the spec's `[metrics] exclude`).
    """

    def __init__(self, not_metrics: Iterable[str] = ()) -> None:
        self._epoch: int | None = None
        self._counts: dict[str, int] = {}
        self._ignored = _IGNORED | {n.lower() for n in not_metrics}
        self._kinds: dict[str, int] = {}
        #: Lines skipped for their length since this parser was made.
        self.overlong = 0

    def state(self) -> dict[str, Any]:
        """What the next line's reading depends on, to continue after a restart."""
        return {"epoch": self._epoch, "counts": dict(self._counts)}

    def restore(self, state: dict[str, Any]) -> None:
        epoch = state.get("epoch")
        self._epoch = to_step(epoch) if epoch is not None else None
        counts = state.get("counts") or {}
        self._counts = {str(k): int(v) for k, v in counts.items()
                        if isinstance(v, int) and not isinstance(v, bool)}

    def feed(self, line: str) -> list[Point]:
        """The points of one line (without its newline)."""
        return self.feed_lines(line).points

    def feed_lines(self, text: str) -> Lines:
        """The points of lines joined by "\\n" (no newline after the last)."""
        text = self._skip_overlong(_fold_redraws(text))
        out = Lines()
        for start, end, maybe_epoch in _lines_to_read(text):
            line = text[start:end]
            if maybe_epoch:
                if m := _KERAS_EPOCH.match(line):
                    self._epoch = to_step(m.group(1))
                continue
            state = self.state() if out.first < 0 else out.state
            if self._pairs(line, out.points) and out.first < 0:
                out.first, out.state = text.count("\n", 0, start), state
        return out

    def _pairs(self, line: str, out: list[Point]) -> bool:
        """Adds one line's points to `out` (True if there were any). Their step is the
        first step key (in STEP_KEYS order) that holds one, else the line's `epoch 3`
        prefix, else the Keras epoch, else each name counts its own lines."""
        found = _PAIR.findall(line)
        known = self._kinds.get
        seen = [known(name) for name, _ in found]
        # Every name has its kind now (a new one is classified once, then looked up).
        kinds = cast("list[int]", seen) if None not in seen else [
            self._kind(name) for name, _ in found]
        if _METRIC not in kinds:
            return False
        step = None
        if (best := min(kinds)) < _METRIC:
            step = to_step(_to_float(found[kinds.index(best)][1]))  # the usual case
            if step is None:
                for _, i in sorted((kind, i) for i, kind in enumerate(kinds) if kind < _METRIC):
                    if (step := to_step(_to_float(found[i][1]))) is not None:
                        break
        if step is None and (m := _EPOCH_PREFIX.match(line)):
            step = to_step(m.group(1))
        if step is None:
            step = self._epoch
        if step is not None:
            try:
                out += [(step, name, float(value))
                        for (name, value), kind in zip(found, kinds) if kind == _METRIC]
            except ValueError:
                out += [(step, name, _to_float(value))
                        for (name, value), kind in zip(found, kinds) if kind == _METRIC]
            return True
        for (name, value), kind in zip(found, kinds):
            if kind == _METRIC:
                n = self._counts.get(name, 0) + 1
                self._counts[name] = n
                out.append((n, name, _to_float(value)))
        return True

    def _kind(self, name: str) -> int:
        """A step key's rank in STEP_KEYS, else _IGNORED_NAME or _METRIC; remembered
        per spelling, as most output repeats a few names."""
        kind = self._kinds.get(name)
        if kind is None:
            low = name.lower()
            if low in self._ignored:
                kind = _IGNORED_NAME
            elif low in STEP_KEYS:
                kind = STEP_KEYS.index(low)
            else:
                kind = _METRIC
            if len(self._kinds) >= _KINDS_KEPT:
                self._kinds.clear()
            self._kinds[name] = kind
        return kind

    def _skip_overlong(self, text: str) -> str:
        """`text` with each line longer than MAX_LINE_CHARS emptied (and counted)."""
        kept: list[str] = []
        pos = last = 0
        while len(text) - pos > MAX_LINE_CHARS:
            # The last newline within reach of the bound: short lines cost one look.
            newline = text.rfind("\n", pos, pos + MAX_LINE_CHARS + 1)
            if newline >= 0:
                pos = newline + 1
                continue
            end = text.find("\n", pos)
            if end < 0:
                end = len(text)
            self.overlong += 1
            kept.append(text[last:pos])
            pos = last = end
        if not kept:
            return text
        kept.append(text[last:])
        return "".join(kept)


def _lines_to_read(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, may be a Keras epoch line) of the lines that may hold a pair or a
    Keras epoch, in order."""
    spans = []
    if "=" in text or ":" in text:
        # The "\n" in front gives a pair at the very end the two characters of
        # look-behind. Index i of `backwards` is index size - i of `text`.
        backwards = "\n" + text.replace(":", "=")[::-1]
        size = len(text)
        for m in _PAIR_BACKWARDS.finditer(backwards):
            end = text.find("\n", size - m.start())
            spans.append((size - m.end() + 1, size if end < 0 else end, False))
        spans.reverse()
    pos = text.find("Epoch")
    if pos >= 0:  # rare: a Keras epoch line (it holds no pair)
        epochs = []
        while pos >= 0:
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            if ":" not in text[start:end] and "=" not in text[start:end]:
                epochs.append((start, end, True))
            pos = text.find("Epoch", end)
        spans = sorted(spans + epochs)
    return spans


def _fold_redraws(text: str) -> str:
    """Keras redraws its bar with \\r and \\b; only the last redraw is the line."""
    if "\r" not in text and "\b" not in text:  # memchr, not a regex scan
        return text
    found = _REDRAW.search(text)
    kept: list[str] = []
    pos = 0
    while found is not None:
        cut = found.start()
        start = text.rfind("\n", 0, cut) + 1
        end = text.find("\n", cut)
        if end < 0:
            end = len(text)
        last = max(text.rfind("\r", cut, end), text.rfind("\b", cut, end))
        kept += (text[pos:start], text[last + 1:end])
        pos = end
        found = _REDRAW.search(text, pos)
    kept.append(text[pos:])
    return "".join(kept)


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
