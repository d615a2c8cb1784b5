"""A pytest plugin that makes TensorFlow, Keras and Ray unimportable, as on a machine
without them: `python -m pytest -p tests.support.blocked_imports ...`. The suite
must still collect, and skip what needs them with a reason (tests/test_without_extras.py
checks it). `TUITUNE_BLOCK_IMPORTS` names other top-level packages to block
(comma-separated; default "tensorflow,keras,ray,tf_keras,tensorboard")."""

from __future__ import annotations

import importlib.abc
import os
import sys

DEFAULT = "tensorflow,keras,ray,tf_keras,tensorboard"


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (importlib's)
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked for this test "
                                      "run)", name=fullname)
        return None


def block(names: set[str]) -> None:
    """Block `names` from now on in this process (and forget them if loaded)."""
    for mod in list(sys.modules):
        if mod.split(".")[0] in names:
            del sys.modules[mod]
    sys.meta_path.insert(0, _Blocker(names))


block({n.strip() for n in os.environ.get("TUITUNE_BLOCK_IMPORTS", DEFAULT).split(",")
       if n.strip()})
