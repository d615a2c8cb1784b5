"""Checkpoints of a Keras model written in the background, so saving costs training
almost nothing.

`model.save` takes about 130 ms for a small MLP (mostly Keras walking its objects
and h5py), which is a tenth of a short epoch. Here the training thread only takes
a *snapshot* at the epoch's end: one compiled read of every model and optimizer
variable (well under a millisecond; TensorFlow's variables are copy-on-write, so
the values read stay those of that epoch while training goes on). A daemon thread
copies the snapshot into a *shadow* model (a clone of the model, compiled the same
way, that training never touches) and saves that to a temporary name, fsyncs it,
renames it into place and fsyncs the folder; only then is the store told, so the
file the store names is always complete and holds exactly the epoch it is named
after. A process killed mid-write leaves at most a hidden temporary file, which
nothing ever names.

Only the newest snapshot waits: when the disk is slower than the epochs, a
snapshot still waiting is replaced by the next one (a clone wants the latest
state). `wait()` returns when everything submitted is on disk and named.

Memory: the shadow and one waiting snapshot are two more copies of the model's
weights and optimizer state, in host memory (never on the GPU).

Models that cannot be cloned from their config (a subclassed model without
`get_config`), or whose clone's variables do not line up with the model's, are
reported by `submit` returning False; the callback then saves synchronously.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

#: Called in the writer thread with (temporary path, shadow model): writes the file.
#: Tests replace it to crash at a chosen moment of the write.
SaveFn = Callable[[Path, keras.Model], None]


class ShadowUnavailable(Exception):
    """The model cannot be mirrored by a shadow; save synchronously instead."""


def _save_model(tmp: Path, shadow: keras.Model) -> None:
    shadow.save(str(tmp))


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _variables(model: keras.Model) -> list[Any]:
    opt = getattr(model, "optimizer", None)
    return [*model.weights, *(opt.variables if opt is not None else ())]


#: model -> (ids of its variables, reader): tracing the reader costs tens of
#: milliseconds, so a model trained by several fits traces it once.
_readers: weakref.WeakKeyDictionary[keras.Model, tuple[tuple[int, ...], Any]] = \
    weakref.WeakKeyDictionary()


def _snapshot_reader(model: keras.Model) -> Callable[[], list[Any]]:
    """A function returning the current values of every model and optimizer variable."""
    variables = _variables(model)
    key = tuple(id(v) for v in variables)
    cached = _readers.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def read() -> list[Any]:
            # Copied to host memory: a model on a GPU keeps its memory to itself.
            with tf.device("/cpu:0"):
                return [tf.identity(v.value) for v in variables]

        # One compiled call instead of one eager op per variable (0.4 ms vs 4 ms).
        reader = tf.function(read)
    else:
        def reader() -> list[Any]:
            return [keras.ops.copy(v.value) for v in variables]
    _readers[model] = (key, reader)
    return reader


def _on_host() -> Any:
    """A context placing new variables in host memory (the shadow needs no GPU)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.device("/cpu:0")
    return contextlib.nullcontext()


def _build_shadow(config: dict[str, Any], cls: type, compile_config: Any,
                  shapes: list[tuple[int, ...]]) -> keras.Model:
    with _on_host():
        return _build_shadow_here(config, cls, compile_config, shapes)


def _build_shadow_here(config: dict[str, Any], cls: type, compile_config: Any,
                       shapes: list[tuple[int, ...]]) -> keras.Model:
    shadow = cls.from_config(config)
    if compile_config is not None:
        shadow.compile_from_config(compile_config)
    opt = getattr(shadow, "optimizer", None)
    if opt is not None and not opt.built:
        opt.build(shadow.trainable_variables)
    got = [tuple(v.shape) for v in _variables(shadow)]
    if got != shapes:
        raise ShadowUnavailable("its clone's variables do not match the model's "
                                f"({len(got)} vs {len(shapes)})")
    return shadow


class BackgroundCheckpointer:
    """Snapshots a model at `submit(step)`; writes `folder/name_for(step)` in a thread.

    Args:
        model: the model being trained (compiled, its optimizer built).
        folder: where checkpoints go.
        name_for: the file name of a step's checkpoint.
        on_written: called in the writer thread with (final path, step) once the
            file is complete and in place (tells the store, prunes old files).
        on_error: called in the writer thread with a message when a write failed.
        save: writes the shadow model to a temporary path (`_save_model`).
    """

    def __init__(self, model: keras.Model, folder: Path, name_for: Callable[[int], str],
                 on_written: Callable[[Path, int], None],
                 on_error: Callable[[str], None], save: SaveFn | None = None) -> None:
        try:
            config = model.get_config()
        except Exception as exc:  # e.g. NotImplementedError of a subclassed model
            raise ShadowUnavailable(f"the model has no config ({exc})") from exc
        compile_config = model.get_compile_config() if model.compiled else None
        self._shadow_args = (config, type(model), compile_config,
                             [tuple(v.shape) for v in _variables(model)])
        self._read = _snapshot_reader(model)
        self._folder = folder
        self._name_for = name_for
        self._on_written = on_written
        self._on_error = on_error
        self._save = save or _save_model
        self._shadow: keras.Model | None = None
        self._cond = threading.Condition()
        self._pending: tuple[int, list[Any]] | None = None
        self._busy = False
        self._closed = False
        self.failed: str | None = None  # set when the shadow cannot be built
        self.written = 0
        self.submitted = 0  # the step of the newest snapshot taken
        self.last_written = 0  # the step of the newest file written
        self.skipped = 0  # snapshots replaced before they were written
        self._thread = threading.Thread(target=self._run, name="tuitune-checkpoint",
                                        daemon=True)
        self._thread.start()
        global _atexit_registered
        if not _atexit_registered:
            # Registered after the trial's sink (which reports first), so it runs
            # before the sink's own exit flush: the last save is named in the store.
            atexit.register(wait_for_all)
            _atexit_registered = True
        _live.add(self)

    # -- the training thread ---------------------------------------------------------------
    def submit(self, step: int) -> bool:
        """Snapshot the model now; False when background saving is unavailable."""
        if self.failed is not None:
            return False
        values = self._read()
        self.submitted = step
        with self._cond:
            if self._pending is not None:
                self.skipped += 1
            self._pending = (step, values)
            self._cond.notify_all()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted snapshot is written (True) or `timeout` passed."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy,
                                       timeout)

    def close(self, timeout: float | None = None) -> bool:
        done = self.wait(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        _live.discard(self)
        return done

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                step, values = self._pending
                self._pending = None
                self._busy = True
            try:
                if self.failed is None:  # else dropped: the callback saves synchronously
                    self._write(step, values)
            except ShadowUnavailable as exc:
                self.failed = str(exc)
                self._on_error(f"cannot save checkpoints in the background ({exc}); "
                               "saving them synchronously")
            except Exception as exc:  # a full disk, a failing save: training goes on
                self._on_error(f"cannot save the checkpoint of step {step} ({exc})")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, step: int, values: list[Any]) -> None:
        if self._shadow is None:
            try:
                self._shadow = _build_shadow(*self._shadow_args)
            except ShadowUnavailable:
                raise
            except Exception as exc:
                raise ShadowUnavailable(f"cannot clone the model: {exc}") from exc
        for variable, value in zip(_variables(self._shadow), values, strict=True):
            variable.assign(value)
        final = self._folder / self._name_for(step)
        # Keras wants the real suffix on the file it writes, so the temporary name
        # keeps it; the leading dot and the pid keep it apart from finished files.
        tmp = self._folder / f".{os.getpid()}-{final.name}"
        try:
            self._save(tmp, self._shadow)
            fsync_file(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        fsync_dir(self._folder)
        self.written += 1
        self.last_written = step
        self._on_written(final, step)


#: Checkpointers still open, so that the process waits for their last save at exit.
_live: weakref.WeakSet[BackgroundCheckpointer] = weakref.WeakSet()
_atexit_registered = False


def wait_for_all(timeout: float | None = None) -> None:
    """Wait for every open checkpointer's writes (at interpreter exit)."""
    for checkpointer in list(_live):
        checkpointer.close(timeout)
