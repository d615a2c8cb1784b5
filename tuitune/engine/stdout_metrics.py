"""Metrics from the output of scripts that do not use tuitune's API.

Understands Keras progress lines (`Epoch 3/10` followed by
`... - loss: 0.41 - accuracy: 0.88 - val_loss: 0.45`) and plain `key=value` or
`key: value` lines (`step=30 loss=0.41`, `epoch 3: val_loss: 0.45`).
"""

from __future__ import annotations

import math
import re

from tuitune.steps import to_step

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
_PAIR = re.compile(rf"([A-Za-z_][\w./]*)\s*(?:=|:)\s*({_NUMBER})(?=[\s,;|)]|$)", re.IGNORECASE)
_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*\d+\s*$")
_EPOCH_PREFIX = re.compile(r"^\s*(?:epoch|step|iter(?:ation)?)\s+(\d+)\b", re.IGNORECASE)
STEP_KEYS = ("step", "global_step", "epoch", "iter", "iteration")
#: Keys that are timings or counters, not metrics.
_IGNORED = frozenset({"eta", "lr_step", "time", "elapsed", "ms", "s", "pid"})


class StdoutMetricParser:
    """Turns a trial's output lines into (step, name, value) points, statefully."""

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._counts: dict[str, int] = {}

    def feed(self, line: str) -> list[tuple[int, str, float]]:
        # Keras redraws its bar with \r and \b; only the last redraw is the line.
        line = line.replace("\b", "\r").rsplit("\r", 1)[-1]
        m = _KERAS_EPOCH.match(line)
        if m:
            self._epoch = to_step(m.group(1))
            return []
        pairs = [(k, _to_float(v)) for k, v in _PAIR.findall(line)]
        pairs = [(k, v) for k, v in pairs if k.lower() not in _IGNORED]
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
