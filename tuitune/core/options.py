"""Checking the options of search strategies and stopping rules: one set of rules.

Every check takes the owner (e.g. ``"asha"``, ``"search strategy 'bayes'"``), the
option's key and the value, and returns the value coerced or raises a ValueError of
one line naming both: ``asha: min_steps must be an integer, got 2.5``. Searchers
declare their options as `Check`s built by `integer`, `number`, `one_of`, ...;
stopping rules call the checks directly. Pure: no I/O, no imports from tuitune.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: (owner, key, value) -> the value, checked and coerced; raises a one-line ValueError.
Check = Callable[[str, str, Any], Any]


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def int_option(owner: str, key: str, value: Any, minimum: int) -> int:
    """An integer >= `minimum` (3.0 counts as 3)."""
    if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{owner}: {key} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {key} must be >= {minimum}, got {value!r}")
    return int(value)


def float_option(owner: str, key: str, value: Any, low: float, high: float = math.inf, *,
                 open_low: bool = False) -> float:
    """A finite number in [low, high], or (low, high] with `open_low`."""
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{owner}: {key} must be a finite number, got {value!r}")
    if value < low or (open_low and value == low) or value > high:
        bounds = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
        raise ValueError(f"{owner}: {key} must be in {bounds}, got {value!r}")
    return float(value)


def choice_option(owner: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: {key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def bool_option(owner: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: {key} must be true or false, got {value!r}")
    return value


# -- checks to declare (searchers' option tables) ----------------------------------


def integer(minimum: int) -> Check:
    return lambda owner, key, value: int_option(owner, key, value, minimum)


def number(low: float, high: float = math.inf, *, open_low: bool = False) -> Check:
    return lambda owner, key, value: float_option(owner, key, value, low, high,
                                                  open_low=open_low)


def one_of(*choices: str) -> Check:
    return lambda owner, key, value: choice_option(owner, key, value, choices)


def boolean() -> Check:
    return bool_option


def parsed(parse: Callable[[Any], Any]) -> Check:
    """A check from a parser that raises ValueError saying only what is wrong."""

    def check(owner: str, key: str, value: Any) -> Any:
        try:
            return parse(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{owner}: {key}: {exc}") from None

    return check
