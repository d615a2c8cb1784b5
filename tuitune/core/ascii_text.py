"""ASCII for terminals without a UTF-8 locale (issue 14, item 6), for every front end.

Over SSH without a UTF-8 locale (a common default) a terminal, or tmux, shows what is
not ASCII as `_`, `q`, `x` or garbage. `needs_ascii()` tells it from the environment;
`to_ascii()` swaps each non-ASCII character for one of the same width (the TUI does it
for every line it draws: ui/glyphs.py; the CLI for what it prints to such a terminal:
`AsciiStream`):

- braille (the charts) by the rows that hold dots: `'` top, `-` middle, `.` bottom,
  `|` a steep stretch;
- blocks (sparklines, bars) by height: `_.-=+*%#`; box lines `-`, `|`, `+`;
- arrows and marks by their look (`→` `>`, `…` `~`, `●` `*`); letters with accents
  by their base letter; anything else `?` (`??` for a wide one).

No Textual: the CLI imports this.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any, TextIO

_BRAILLE_ROWS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BLOCKS = dict(zip("▁▂▃▄▅▆▇█", "_.-=+*%#", strict=True))
_FIXED = {
    "▏": "-", "▎": "-", "▍": "-", "▌": "=", "▋": "=", "▊": "=", "▉": "=", "▐": "=",
    "→": ">", "←": "<", "↑": "^", "↓": "v", "▲": "^", "▼": "v", "▶": ">", "◀": "<",
    "▸": ">", "◂": "<", "…": "~", "·": ".", "•": "*", "●": "*", "○": "o", "■": "#",
    "□": "o", "×": "x", "÷": "/", "±": "+", "—": "-", "–": "-", "‘": "'", "’": "'",
    "“": '"', "”": '"', "σ": "s", "°": "o", "✓": "v", "✗": "x", "⚠": "!", "⏎": "<",
    "\u00a0": " ",
}


def _braille(code: int) -> str:
    rows = [r for r, bits in enumerate(_BRAILLE_ROWS) if code & (bits[0] | bits[1])]
    if not rows:
        return " "
    low, high = min(rows), max(rows)
    if high - low >= 2:
        return "|"
    if high <= 0:
        return "'"
    if low >= 3 or low == 2:
        return "."
    return "'" if low == 0 else "-"


def _box(char: str) -> str:
    words = set(unicodedata.name(char, "").split())
    across = bool(words & {"HORIZONTAL", "LEFT", "RIGHT"})
    down = bool(words & {"VERTICAL", "UP", "DOWN"})
    if across and not down:
        return "-"
    if down and not across:
        return "|"
    return "+"


def ascii_char(char: str) -> str:
    """One character's ASCII stand-in, as many cells wide as the character."""
    code = ord(char)
    if code < 128:
        return char
    if char in _FIXED:
        return _FIXED[char]
    if char in _BLOCKS:
        return _BLOCKS[char]
    if 0x2800 <= code <= 0x28FF:
        return _braille(code - 0x2800)
    if 0x2500 <= code <= 0x257F:
        return _box(char)
    if 0x2580 <= code <= 0x259F:
        return "#"
    base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(base) == 1 and base.isprintable():
        return base
    return "??" if unicodedata.east_asian_width(char) in ("W", "F") else "?"


class _Table(dict):
    """`str.translate` table filled on first use of each character."""

    def __missing__(self, code: int) -> str:
        self[code] = out = ascii_char(chr(code))
        return out


_TABLE = _Table()


def to_ascii(text: str) -> str:
    return text if text.isascii() else text.translate(_TABLE)


def locale_is_utf8(environ: Mapping[str, str]) -> bool:
    """Whether the locale the terminal was given says UTF-8 (LC_ALL, else LC_CTYPE,
    else LANG: the first one set decides, as for the C library)."""
    lc_all, lc_ctype, lang = (environ.get(v) or "" for v in ("LC_ALL", "LC_CTYPE", "LANG"))
    if not lc_all and lc_ctype.lower() in ("c.utf-8", "c.utf8") and lang.upper() in (
            "", "C", "POSIX"):
        # Python sets LC_CTYPE=C.UTF-8 itself when it starts in the C locale (PEP 538):
        # the terminal was given LANG=C, and that is what it draws with.
        lc_ctype = ""
    value = lc_all or lc_ctype or lang
    return "utf-8" in value.lower() or "utf8" in value.lower()


def needs_ascii(environ: Mapping[str, str] | None = None, encoding: str | None = None) -> bool:
    """True when the terminal should get ASCII only: no UTF-8 locale, or an output
    encoding that is not UTF-8."""
    env = os.environ if environ is None else environ
    enc = (encoding if encoding is not None
           else getattr(sys.stdout, "encoding", None) or "utf-8")
    return not locale_is_utf8(env) or enc.lower().replace("_", "-") not in ("utf-8", "utf8")


class AsciiStream:
    """A text stream that writes what it is given in ASCII (`to_ascii`); the rest of
    the stream (flush, fileno, encoding) is the wrapped one's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(to_ascii(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
