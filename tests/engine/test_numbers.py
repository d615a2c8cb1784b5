"""One rule for every number shown to a person (issue 14.2): tuitune/core/numfmt.py, used by
the CLI (client/summary.py) and the TUI (ui/fmt.py, ui/series.py) alike."""

from __future__ import annotations

import math

from tuitune.core import numfmt
from tuitune.client import summary
from tuitune.ui import fmt, series


def test_the_number_rule():
    assert numfmt.value(0.005000000000000001) == "0.005"
    assert numfmt.value(0.1 + 0.2) == "0.3"
    assert numfmt.value(0.000123456) == "0.0001235" and numfmt.value(1234567.0) == "1.235e6"
    assert numfmt.value(123456) == "123456"  # steps and counts are whole
    assert numfmt.value(math.inf) == "inf" and numfmt.value(math.nan) == "-"


def test_the_cli_and_the_tui_share_the_rule():
    assert fmt.value is numfmt.value
    assert series.nice_number is numfmt.nice_number
    assert summary.fmt(0.005000000000000001) == fmt.value(0.005000000000000001) == "0.005"
