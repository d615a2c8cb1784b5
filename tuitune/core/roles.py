"""What a parameter is for: its role, declared in the spec or read from its name.

One answer to "which parameter is the learning rate" for every reader: the TUI's
`[`/`]` keys scale the `learning_rate`, the Keras callback picks an optimizer setter
by role, and coordinate descent orders its sweep by role. Standard library only, so
the trial-side Keras helper can import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

#: The closed set of roles a spec may declare (`role = "..."` in `[space.NAME]`).
ROLES: tuple[str, ...] = (
    "learning_rate",
    "momentum",       # SGD/RMSprop momentum (Adam's beta_1 where there is none)
    "beta_1",
    "beta_2",
    "batch_size",
    "architecture",   # layers, units, widths, filters
    "schedule",       # decays, warm-ups, learning-rate schedules
    "weight_decay",
    "regularization",  # dropout, l1/l2 penalties
    "other",
)

#: The environment variable that carries the roles into the trial: JSON name -> role.
ROLES_ENV = "TUITUNE_ROLES"


class _HasRole(Protocol):
    name: str
    role: str


def roles_env(params: Iterable[_HasRole]) -> str:
    """The value of `ROLES_ENV` for a trial of these parameters."""
    return json.dumps({p.name: p.role for p in params})


def role_in_trial(name: str, environ: Mapping[str, str]) -> str:
    """A parameter's role inside a trial: the one the engine sent, else by its name
    (the script runs by hand, or was launched by an older tuitune)."""
    try:
        sent = json.loads(environ.get(ROLES_ENV) or "{}")
    except ValueError:
        sent = {}
    role = sent.get(name) if isinstance(sent, dict) else None
    return role if role in ROLES else role_from_name(name)


_ARCH_WORDS = ("layer", "unit", "hidden", "width", "depth", "neuron", "filter", "channel")


def role_from_name(name: str) -> str:
    """The role a parameter has when the spec declares none: the one naming rule.

    Regularisation is checked first so that "weight_decay" is not a schedule, and
    schedules before the learning rate so that "lr_decay" is not the rate itself.
    """
    low = name.lower()
    tokens = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()))
    if "weight_decay" in low or "weightdecay" in low or "wd" in tokens:
        return "weight_decay"
    if ("dropout" in low or tokens & {"l1", "l2", "reg"}
            or any(t.startswith("regulari") for t in tokens)):
        return "regularization"
    if "decay" in low or "schedule" in low or "warmup" in low:
        return "schedule"
    if ("lr" in tokens or "learning" in low or "learningrate" in low
            or low in ("eta", "step_size", "stepsize")):
        return "learning_rate"
    if "momentum" in low:
        return "momentum"
    if re.search(r"beta_?1$", low):
        return "beta_1"
    if re.search(r"beta_?2$", low):
        return "beta_2"
    if any(t.startswith("beta") for t in tokens):
        return "momentum"
    if "batch" in low and "norm" not in low:
        return "batch_size"
    if any(w in low for w in _ARCH_WORDS):
        return "architecture"
    return "other"
