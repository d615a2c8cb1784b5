"""Trials placed by a remote executor show their node in the trial table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.extras import NO_RAY
from tuitune.core.spec import load_spec
from tuitune.ui.widgets.columns import columns_for

QUICKSTART = Path(__file__).resolve().parents[2] / "sample_specs" / "quickstart.toml"


def test_node_column_only_for_remote_executors():
    local = load_spec(QUICKSTART)
    assert "node" not in [c.key for c in columns_for(local)]
    pytest.importorskip("ray", reason=NO_RAY)
    remote = local.with_executor("ray", address="127.0.0.1:6379")
    keys = [c.key for c in columns_for(remote)]
    assert "node" in keys and keys.index("node") > keys.index("gpu")
