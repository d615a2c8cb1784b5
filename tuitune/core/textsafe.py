"""Text from others (trial output, spec keys, run names) made safe to show on a terminal.

A trial's output may hold escape sequences that a terminal would obey (an OSC 52
clipboard write, a title change, cursor moves); a spec key may hold a newline.
Every character that is not printable is shown as a visible escape instead
(`\\x1b`, `\\n`, `\\u202e`), so what reaches the terminal is text, never a command.
The CLI's `logs`, its error lines and the TUI's text cells all go through here.
"""

from __future__ import annotations


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every non-printable character (controls, format characters such as
    bidi overrides, line separators, lone surrogates) escaped, except those in `keep`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def log_line(line: str) -> str:
    """One line of a trial's log as shown to a user: carriage returns (progress bars
    redrawing themselves) dropped, tabs kept, every other control escaped."""
    return escape_controls(line.replace("\r", ""), keep="\t")
