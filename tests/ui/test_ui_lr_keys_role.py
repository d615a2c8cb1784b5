"""Which parameter the `[`/`]` keys scale: the mutable float whose role is the
learning rate, declared in the spec or read from its name (tuitune/core/roles.py)."""

from __future__ import annotations

from tuitune.core.space import FloatParam, IntParam, Space
from tuitune.ui.screens.hand_actions import learning_rate


def test_the_keys_scale_the_declared_learning_rate_over_a_name() -> None:
    space = Space((
        FloatParam("lr", low=1e-4, high=1.0, log=True, mutable=True, role="other"),
        FloatParam("alpha", low=1e-4, high=1.0, mutable=True, role="learning_rate"),
    ))
    assert learning_rate(space) is space["alpha"]


def test_by_name_a_schedule_is_not_the_rate() -> None:
    # "lr_decay" named like a learning rate: before roles the keys scaled it.
    space = Space((
        FloatParam("lr_decay", low=0.1, high=1.0, mutable=True),
        FloatParam("base_lr", low=1e-4, high=1.0, log=True, mutable=True),
    ))
    assert learning_rate(space) is space["base_lr"]


def test_without_a_learning_rate_the_first_mutable_log_float() -> None:
    space = Space((
        IntParam("units", low=8, high=64, mutable=True),
        FloatParam("wd", low=1e-6, high=1e-2, mutable=False, log=True),
        FloatParam("scale", low=1e-3, high=1.0, log=True, mutable=True),
    ))
    assert learning_rate(space) is space["scale"]
