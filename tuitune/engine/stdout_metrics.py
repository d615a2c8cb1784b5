"""Metrics from the output of scripts that do not use tuitune's API.

Understands Keras progress lines (`Epoch 3/10` followed by
`... - loss: 0.41 - accuracy: 0.88 - val_loss: 0.45`) and plain `key=value` or
`key: value` lines (`step=30 loss=0.41`, `epoch 3: val_loss: 0.45`).

Speed: a block of many lines is first sifted in C (string methods and one pattern
that the regex engine finds by a literal, see `_candidate_lines`); only lines that
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
from typing import Any

from tuitune.steps import to_step

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
    rf"[^\S\n]*+[\w./]*+(?<=[A-Za-z_])[^\n]*",
    re.IGNORECASE | re.DOTALL)
_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*\d+\s*$")
_EPOCH_PREFIX = re.compile(r"^\s*(?:epoch|step|iter(?:ation)?)\s+(\d+)\b", re.IGNORECASE)
_REDRAW = re.compile(r"[\r\b]")
STEP_KEYS = ("step", "global_step", "epoch", "iter", "iteration")
#: Keys that are timings or counters, not metrics.
_IGNORED = frozenset({"eta", "lr_step", "time", "elapsed", "ms", "s", "pid"})

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
        for start, end in _lines_to_read(text):
            line = text[start:end]
            m = _KERAS_EPOCH.match(line)
            if m:
                self._epoch = to_step(m.group(1))
                continue
            state = self.state() if out.first < 0 else out.state
            if self._pairs(line, out.points) and out.first < 0:
                out.first, out.state = text.count("\n", 0, start), state
        return out

    def _pairs(self, line: str, out: list[Point]) -> bool:
        """Adds one line's points to `out` (True if there were any)."""
        pairs = [(k, _to_float(v)) for k, v in _PAIR.findall(line)
                 if k.lower() not in self._ignored]
        if not pairs:
            return False
        step = self._step(line, pairs)
        added = len(out)
        for name, value in pairs:
            if name.lower() in STEP_KEYS:
                continue
            if step is None:
                n = self._counts.get(name, 0) + 1
                self._counts[name] = n
                out.append((n, name, value))
            else:
                out.append((step, name, value))
        return len(out) > added

    def _step(self, line: str, pairs: list[tuple[str, float]]) -> int | None:
        for key in STEP_KEYS:
            for k, v in pairs:
                if k.lower() == key and (step := to_step(v)) is not None:
                    return step
        m = _EPOCH_PREFIX.match(line)
        if m and (step := to_step(m.group(1))) is not None:
            return step
        return self._epoch

    def _skip_overlong(self, text: str) -> str:
        """`text` with each line longer than MAX_LINE_CHARS emptied (and counted)."""
        pos = 0
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
            text = text[:pos] + text[end:]
        return text


def _lines_to_read(text: str) -> list[tuple[int, int]]:
    """(start, end) of the lines that may hold a pair or a Keras epoch, in order."""
    spans = []
    if "=" in text or ":" in text:
        # The "\n" in front gives a pair at the very end the two characters of
        # look-behind. Index i of `backwards` is index size - i of `text`.
        backwards = "\n" + text.replace(":", "=")[::-1]
        size = len(text)
        for m in _PAIR_BACKWARDS.finditer(backwards):
            end = text.find("\n", size - m.start())
            spans.append((size - m.end() + 1, size if end < 0 else end))
        spans.reverse()
    pos = text.find("Epoch")
    if pos >= 0:  # rare: a Keras epoch line (it holds no pair)
        epochs = []
        while pos >= 0:
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            if ":" not in text[start:end] and "=" not in text[start:end]:
                epochs.append((start, end))
            pos = text.find("Epoch", end)
        spans = sorted(spans + epochs)
    return spans


def _fold_redraws(text: str) -> str:
    """Keras redraws its bar with \\r and \\b; only the last redraw is the line."""
    found = _REDRAW.search(text)
    if found is None:
        return text
    kept, pos = [], 0
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
