"""Metrics from the output of scripts that do not use tuitune's API.

Understands Keras progress lines (`Epoch 3/10` followed by
`... - loss: 0.41 - accuracy: 0.88 - val_loss: 0.45`) and plain `key=value` or
`key: value` lines (`step=30 loss=0.41`, `epoch 3: val_loss: 0.45`).

Parsing is linear in the length of a line (a key is only tried where a word
starts, and nothing backtracks into it), and a line longer than `MAX_LINE_CHARS`
is skipped whole: a script that prints megabytes without a newline costs the
supervisor no more than reading them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
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
_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*\d+\s*$")
_EPOCH_PREFIX = re.compile(r"^\s*(?:epoch|step|iter(?:ation)?)\s+(\d+)\b", re.IGNORECASE)
STEP_KEYS = ("step", "global_step", "epoch", "iter", "iteration")
#: Keys that are timings or counters, not metrics.
_IGNORED = frozenset({"eta", "lr_step", "time", "elapsed", "ms", "s", "pid"})


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

    def feed(self, line: str) -> list[tuple[int, str, float]]:
        # Keras redraws its bar with \r and \b; only the last redraw is the line.
        if "\b" in line:
            line = line.replace("\b", "\r")
        line = line.rsplit("\r", 1)[-1]
        if len(line) > MAX_LINE_CHARS:
            self.overlong += 1
            return []
        m = _KERAS_EPOCH.match(line)
        if m:
            self._epoch = to_step(m.group(1))
            return []
        if "=" not in line and ":" not in line:
            return []  # most output (warnings, bars, prose) costs only this
        pairs = [(k, _to_float(v)) for k, v in _PAIR.findall(line)
                 if k.lower() not in self._ignored]
        if not pairs:
            return []
        step = self._step(line, pairs)
        out = []
        for name, value in pairs:
            if name.lower() in STEP_KEYS:
                continue
            if step is None:
                n = self._counts.get(name, 0) + 1
                self._counts[name] = n
                out.append((n, name, value))
            else:
                out.append((step, name, value))
        return out

    def _step(self, line: str, pairs: list[tuple[str, float]]) -> int | None:
        for key in STEP_KEYS:
            for k, v in pairs:
                if k.lower() == key and (step := to_step(v)) is not None:
                    return step
        m = _EPOCH_PREFIX.match(line)
        if m and (step := to_step(m.group(1))) is not None:
            return step
        return self._epoch


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
