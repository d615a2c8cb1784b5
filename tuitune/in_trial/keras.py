"""Keras 3 integration: one callback connects `model.fit` to tuitune.

    import keras
    import tuitune.trial as tt
    from tuitune.keras import TuituneCallback, configure_gpu_memory

    configure_gpu_memory()                       # before TensorFlow touches a GPU
    p = tt.params()
    model = build_model(p)                       # compiled, with a float learning rate
    cb = TuituneCallback()
    model.fit(x, y, validation_data=(xv, yv), epochs=p["epochs"],
              initial_epoch=cb.initial_epoch, callbacks=[cb], verbose=2)

What the callback does, as a tuitune trial:

- **Reports** every numeric entry of the epoch logs (`loss`, `accuracy`,
  `val_loss`, ...) at step = epoch number, 1-based; plus `learning_rate` (the
  optimizer's current value) when the logs lack it, so tweaks show on the chart.
  With `batch_every=N` it also reports the batch logs every N batches as
  `batch/loss`, `batch/accuracy`, ... at a *global batch* step (epoch index x
  batches per epoch + batch, 1-based). The prefix keeps the two step axes apart:
  stopping rules and the objective only ever read the epoch-level names. Keras'
  batch logs are running means over the epoch so far, not single-batch values.
- **Applies live tweaks** at the start of each epoch (`tuitune tweak RUN ID lr=0.01`):
  a parameter is applied by its role (`role = ...` in the spec, else read from its
  name: `lr`, `learning_rate`, `eta`, ... are the learning rate; see
  `tuitune.core.roles`). The `learning_rate` is assigned to the optimizer's
  learning-rate variable; `momentum` (SGD/RMSprop's momentum, or Adam-family
  `beta_1`), `beta_1`, `beta_2` and `weight_decay` are set on the optimizer and the
  compiled training function is rebuilt, because Keras bakes those Python floats
  into it. Map any other parameter with `setters={"name": fn}`; a name without a
  setter is only recorded (`tt.params()` has it) and a one-line notice says so.
- **Stops cleanly** when the engine asks (a stopping rule, or a user): it sets
  `model.stop_training`, checked before every batch, so `fit` returns and the
  script exits normally. An epoch cut short is not reported and not checkpointed.
- **Checkpoints** the model (weights and optimizer state) after each epoch to
  `<trial folder>/checkpoints/epoch-NNNN.keras` (the last two are kept), and
  tells tuitune about it. Saving happens in a background thread: at the epoch's
  end the callback only snapshots the variables (under a millisecond), and the
  file is written to a temporary name, fsynced and renamed before the store
  names it, so a clone never copies half a file and gets exactly the epoch the
  store names (see `tuitune.in_trial.keras_checkpoint`). Training ends only after its
  last save is written. Models that cannot be cloned from their config are
  saved synchronously, as before.
  `checkpoint_max_overhead=0.02` spaces saves out when saving each epoch would
  cost more than 2% of the training time (big model, short epochs). Only inside
  a tuitune trial, unless asked: run by hand, nothing is written.
- **Resumes** a trial cloned from a checkpoint: at the start of training it loads
  the checkpoint's weights and optimizer state into the script's (already
  compiled) model, keeps the learning rate the script chose (a clone may have
  changed it), and makes `fit` continue after the checkpoint's epoch.
- **TensorBoard** (optional, `tensorboard=True`): writes Keras' TensorBoard logs to
  `<trial folder>/tensorboard` (see `tensorboard_dir()`), so `tensorboard --logdir
  ~/.tuitune/runs/RUN/trials` shows every trial of a run.

Run outside tuitune (no TUITUNE_* environment) the same script trains normally:
reports are dropped, no tweaks or stop requests arrive, and no checkpoints are
written. Importing this module imports Keras (it subclasses its Callback); the
rest of tuitune never imports it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras

import tuitune.in_trial.trial as tt
from tuitune.core.roles import role_in_trial
from tuitune.in_trial.keras_checkpoint import (
    BackgroundCheckpointer,
    ShadowUnavailable,
    fsync_dir,
    fsync_file,
)

#: A setter applies one tweaked value to the model being trained. It returns True
#: when it changed a Python value that the compiled training function captured,
#: so that the callback rebuilds that function (e.g. an optimizer's momentum).
Setter = Callable[[keras.Model, Any], "bool | None"]

#: Checkpoint file names, by the epoch (step) they hold.
CHECKPOINT_PATTERN = "epoch-{step:04d}.keras"
WEIGHTS_PATTERN = "epoch-{step:04d}.weights.h5"
KEEP_CHECKPOINTS = 2
BATCH_PREFIX = "batch/"

__all__ = [
    "BATCH_PREFIX",
    "CHECKPOINT_PATTERN",
    "DEFAULT_SETTERS",
    "Setter",
    "TuituneCallback",
    "configure_gpu_memory",
    "set_learning_rate",
    "set_momentum",
    "set_optimizer_attribute",
    "tensorboard_dir",
]


def _notice(message: str) -> None:
    # stderr lands in the trial's log, whose tail the TUI shows next to the trial.
    print(f"tuitune: {message}", file=sys.stderr, flush=True)


# -- helpers a script may call directly -------------------------------------------------
def tensorboard_dir() -> Path:
    """Where TensorBoard logs of this trial go: `<trial folder>/tensorboard`.

    Outside tuitune it is `./logs`, Keras' own default for its TensorBoard callback.
    """
    folder = os.environ.get("TUITUNE_TRIAL_DIR")
    return Path(folder) / "tensorboard" if folder else Path("logs")


def configure_gpu_memory(limit_mb: int | None = None) -> int | None:
    """Cap the GPU memory TensorFlow may take, for trials that share a GPU.

    Reads the cap from `TUITUNE_GPU_MEMORY_MB` (set by the engine from the spec's
    `resources.gpu_memory_mb`) unless `limit_mb` is given, and applies it to every
    visible GPU as a logical device with `memory_limit`. Memory growth needs no
    call: the engine sets `TF_FORCE_GPU_ALLOW_GROWTH=true`. Call this before the
    first model or tensor is created (TensorFlow fixes its devices then).

    Args:
        limit_mb: the cap in MiB; None reads the environment.

    Returns:
        The cap applied, or None when there is no cap, no GPU, or no TensorFlow
        (a no-op on CPU-only machines and outside tuitune).
    """
    if limit_mb is None:
        value = os.environ.get("TUITUNE_GPU_MEMORY_MB", "").strip()
        if not value:
            return None
        try:
            limit_mb = int(value)
        except ValueError:
            _notice(f"ignoring TUITUNE_GPU_MEMORY_MB={value!r}: not a whole number of MiB")
            return None
    if limit_mb <= 0:
        return None
    try:
        import tensorflow as tf
    except ImportError:  # another Keras backend: nothing of TensorFlow's to cap
        return None
    gpus = tf.config.list_physical_devices("GPU")  # does not initialise the devices
    if not gpus:
        return None
    try:
        for gpu in gpus:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit_mb)])
    except RuntimeError as exc:  # TensorFlow already set its devices up
        _notice(f"cannot cap GPU memory at {limit_mb} MiB: {exc} "
                "(call configure_gpu_memory() before building the model)")
        return None
    return limit_mb


def _optimizer(model: keras.Model) -> Any:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        raise ValueError("the model has no optimizer (compile it first)")
    # A mixed-precision LossScaleOptimizer keeps the hyperparameters on the inner one.
    return getattr(opt, "inner_optimizer", opt)


def set_learning_rate(model: keras.Model, value: Any) -> bool:
    """Assign a new learning rate to the model's optimizer (its variable; no retrace).

    Raises:
        ValueError: the optimizer follows a LearningRateSchedule or a callable,
            which a single value cannot replace.
    """
    opt = _optimizer(model)
    current = getattr(opt, "_learning_rate", None)
    if current is not None and not isinstance(current, keras.Variable):
        raise ValueError("the optimizer's learning rate is a schedule or a callable; "
                         "build it with a float learning_rate to tweak it live")
    opt.learning_rate.assign(float(value))
    return False


def set_optimizer_attribute(*names: str) -> Setter:
    """A setter for a hyperparameter the optimizer keeps as a Python float.

    The first of `names` the optimizer has is set (e.g. ``("momentum", "beta_1")``);
    the setter then returns True so the training function is rebuilt with the
    new value. A value held in a Keras Variable is assigned instead.
    """

    def setter(model: keras.Model, value: Any) -> bool:
        opt = _optimizer(model)
        for name in names:
            if not hasattr(opt, name):
                continue
            current = getattr(opt, name)
            if isinstance(current, keras.Variable):
                current.assign(float(value))
                return False
            if name == "momentum" and current == 0 and getattr(opt, "built", False) \
                    and hasattr(opt, "momentums") and not opt.momentums:
                # Keras' SGD builds momentum slots only for a non-zero momentum.
                raise ValueError("the optimizer was built with momentum=0, so it has no "
                                 "momentum slots; start it with a non-zero momentum")
            setattr(opt, name, float(value))
            return True
        raise ValueError(f"{type(opt).__name__} has no {' or '.join(names)}")

    setter.__name__ = f"set_{names[0]}"
    return setter


#: Momentum: SGD/RMSprop's `momentum`, or the Adam family's `beta_1`.
set_momentum = set_optimizer_attribute("momentum", "beta_1")

#: The optimizer setter for each parameter role (see `tuitune.core.roles`); a tweaked
#: parameter gets the one of its role, declared in the spec or read from its name.
#: `setters=` adds or overrides entries by parameter name.
DEFAULT_SETTERS: Mapping[str, Setter] = {
    "learning_rate": set_learning_rate,
    "momentum": set_momentum,
    "beta_1": set_optimizer_attribute("beta_1"),
    "beta_2": set_optimizer_attribute("beta_2"),
    "weight_decay": set_optimizer_attribute("weight_decay"),
}


def _numeric(logs: Mapping[str, Any] | None) -> dict[str, float]:
    out = {}
    for name, value in (logs or {}).items():
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue  # e.g. a list from a custom metric: not a curve
    return out


# -- the callback ------------------------------------------------------------------------
class TuituneCallback(keras.callbacks.Callback):
    """Reports, tweaks, stops, checkpoints and resumes a Keras `fit` for tuitune.

    Args:
        batch_every: also report the batch logs every this many batches, as
            ``batch/<name>`` at a global batch step; 0 (default) reports epochs only.
            Reading batch logs makes Keras wait for each batch, so keep N large on
            a GPU.
        checkpoint: save `epoch-NNNN.keras` after each epoch. None (default): only when
            running as a tuitune trial.
        checkpoint_every: save at most every this many epochs.
        checkpoint_max_overhead: e.g. 0.02: skip an epoch's save when saving would
            take more than this fraction of the training time so far (a save's
            duration is known from the one before). For big models with short
            epochs, where saving each epoch would cost a lot: saves are spaced
            out (a clone then starts from a checkpoint a few epochs old; its step
            says which). None (default): every `checkpoint_every` epochs. The
            last epoch, and an epoch after which training stops, are always saved.
        checkpoint_background: write checkpoints in a background thread (default):
            the epoch's end only snapshots the variables, and the shadow model that
            is saved costs two more host-memory copies of the weights and optimizer
            state. False saves in the training thread, as `model.save` would.
        resume: load the initial checkpoint when the trial was cloned from one.
        setters: parameter name -> setter, taking precedence over the setter of the
            parameter's role (`DEFAULT_SETTERS`); None leaves that parameter to the
            script.
        report_learning_rate: report the optimizer's learning rate as
            `learning_rate` each epoch when the logs lack it.
        tensorboard: True writes TensorBoard logs to `tensorboard_dir()`; a path
            writes them there; False (default) writes none.
        stop_within_epoch: check for stop requests before every batch (cheap: the
            store is read at most twice a second), not only at epoch ends.
    """

    def __init__(
        self,
        *,
        batch_every: int = 0,
        checkpoint: bool | None = None,
        checkpoint_every: int = 1,
        checkpoint_max_overhead: float | None = None,
        checkpoint_background: bool = True,
        resume: bool = True,
        setters: Mapping[str, Setter | None] | None = None,
        report_learning_rate: bool = True,
        tensorboard: bool | str | os.PathLike[str] = False,
        stop_within_epoch: bool = True,
    ) -> None:
        super().__init__()
        if batch_every < 0 or checkpoint_every < 1 or (checkpoint_max_overhead or 0) < 0:
            raise ValueError("batch_every and checkpoint_max_overhead must be >= 0, "
                             "checkpoint_every >= 1")
        self.batch_every = int(batch_every)
        self.checkpoint = tt.active() if checkpoint is None else bool(checkpoint)
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint_max_overhead = checkpoint_max_overhead
        self.checkpoint_background = checkpoint_background
        self.resume = resume
        self.setters: dict[str, Setter | None] = dict(setters or {})
        self.report_learning_rate = report_learning_rate
        self.stop_within_epoch = stop_within_epoch
        self._tensorboard: keras.callbacks.TensorBoard | None = None
        if tensorboard and importlib.util.find_spec("tensorboard") is None:
            # Keras' callback would fail at the first batch; train without it instead.
            _notice("TensorBoard is not installed (pip install tensorboard): "
                    "writing no TensorBoard logs")
        elif tensorboard:
            log_dir = tensorboard_dir() if tensorboard is True else Path(tensorboard)
            self._tensorboard = keras.callbacks.TensorBoard(log_dir=str(log_dir))
        # Keras runs batch-end hooks of callbacks that define one synchronously
        # (it must hand them the batch's values), and asynchronously otherwise; so
        # the hook is bound only when batch logs are needed, keeping the default
        # per-epoch mode off the training loop's critical path.
        if self.batch_every or self._tensorboard is not None:
            self.on_train_batch_end = self._train_batch_end  # type: ignore[method-assign]
        self._resumed = False  # the initial checkpoint is loaded once per process
        self._resumed_now = False  # ... and this fit() is the one that loaded it
        self._offset = 0  # epochs to add when fit was not told the initial epoch
        self._first_epoch: int | None = None
        self._epoch = 0
        self._cut_short = False
        self._last_batch_step = 0
        self._saved_initial_epoch: Any = None
        self._warned: set[str] = set()
        self._fit_started = 0.0
        self._save_seconds = 0.0  # spent saving checkpoints in this fit
        self._last_save_seconds = 0.0
        self._saved: list[Path] = []  # checkpoint files written, oldest first
        self._background: BackgroundCheckpointer | None = None
        self._background_unavailable = False
        self._last_sync_step = 0

    # -- public ------------------------------------------------------------------------
    @property
    def initial_epoch(self) -> int:
        """The epoch to pass to `model.fit(initial_epoch=...)`: the checkpoint's
        epoch for a trial cloned from one, else 0."""
        return tt.initial_step() if self.resume and tt.initial_checkpoint() else 0

    def step(self, epoch: int) -> int:
        """The tuitune step (1-based epoch number) of Keras' 0-based `epoch`."""
        return epoch + 1 + self._offset

    # -- Keras hooks ---------------------------------------------------------------------
    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        if self._tensorboard is not None:
            self._tensorboard.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        if self._tensorboard is not None:
            self._tensorboard.set_params(params)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._first_epoch = None
        self._offset = 0
        self._resumed_now = False
        self._fit_started = time.perf_counter()
        self._save_seconds = self._last_save_seconds = 0.0
        self._background = None
        path = tt.initial_checkpoint()
        if self.resume and not self._resumed and path is not None:
            self._load_initial_checkpoint(path)
            self._resumed = self._resumed_now = True
        if self._tensorboard is not None:
            self._tensorboard.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._first_epoch is None:
            self._first_epoch = epoch
            start = tt.initial_step() if self._resumed_now else 0
            if epoch < start:
                # fit ignored the checkpoint's epoch: keep the step axis continuous.
                self._offset = start - epoch
            steps = self.params.get("steps") if self.params else None
            self._last_batch_step = (epoch + self._offset) * steps if steps else 0
        self._epoch = epoch
        self._cut_short = False
        changes = tt.apply_tweaks(step=self.step(epoch))
        if changes:
            self._apply(changes)
        if self._tensorboard is not None:
            self._tensorboard.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras calls batch-begin hooks synchronously whatever they do, so this
        # check costs one function call per batch until a poll is due.
        if self.stop_within_epoch and tt.should_stop() and not self.model.stop_training:
            self.model.stop_training = True
            steps = self.params.get("steps") if self.params else None
            self._cut_short = steps is None or batch + 1 < steps
            _notice(f"stop requested: ending training during epoch {self.step(self._epoch)}")
        if self._tensorboard is not None:
            self._tensorboard.on_train_batch_begin(batch, logs)

    def _train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.batch_every:
            steps = self.params.get("steps") if self.params else None
            if steps:
                current = (self._epoch + self._offset) * steps + batch + 1
            else:  # unknown epoch length: count batches instead
                current = self._last_batch_step + 1
            if current // self.batch_every > self._last_batch_step // self.batch_every:
                tt.report(current, **{BATCH_PREFIX + k: v for k, v in _numeric(logs).items()})
            self._last_batch_step = current
        if self._tensorboard is not None:
            self._tensorboard.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._tensorboard is not None:
            self._tensorboard.on_test_begin(logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._tensorboard is not None:
            self._tensorboard.on_test_end(logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        step = self.step(epoch)
        if self._cut_short:
            _notice(f"epoch {step} was cut short by the stop request: not reported")
        else:
            metrics = _numeric(logs)
            if self.report_learning_rate and not {"lr", "learning_rate"} & metrics.keys():
                lr = self._current_learning_rate()
                if lr is not None:
                    metrics["learning_rate"] = lr
            tt.report(step, **metrics)
            if not self.model.stop_training and tt.should_stop():
                self.model.stop_training = True
                _notice(f"stop requested: ending training after epoch {step}")
            if self.checkpoint and self._checkpoint_due(epoch):
                self._save_checkpoint(step)
        if self._tensorboard is not None:
            self._tensorboard.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._background is not None:
            # A trial that ends waits for its last save: the engine may clone or
            # requeue it from the checkpoint the store names as soon as it exits.
            background, self._background = self._background, None
            background.close()
            last = background.submitted
            if background.failed is not None and last > max(background.last_written,
                                                            self._last_sync_step):
                # The shadow failed on the last snapshot; the model still holds it.
                self._save_synchronously(last)
        if self._saved_initial_epoch is not None:
            # A later fit() on the same model must not start at the checkpoint again.
            self.model._initial_epoch = self._saved_initial_epoch[0]
            self._saved_initial_epoch = None
        if self._tensorboard is not None:
            self._tensorboard.on_train_end(logs)
        tt.flush()  # the last epoch's points reach the store before the process ends

    # -- internals ----------------------------------------------------------------------
    def _setter(self, name: str) -> Setter | None:
        if name in self.setters:  # the script's own choice, None included
            return self.setters[name]
        return DEFAULT_SETTERS.get(role_in_trial(name, os.environ))

    def _apply(self, changes: Mapping[str, Any]) -> None:
        retrace = False
        for name, value in changes.items():
            setter = self._setter(name)
            if setter is None:
                if name not in self._warned:
                    self._warned.add(name)
                    _notice(f"tweak of {name} (to {value!r}) recorded, but the callback has no "
                            f"setter for it; read tt.params()[{name!r}] or pass "
                            f"TuituneCallback(setters={{{name!r}: fn}})")
                continue
            try:
                retrace = bool(setter(self.model, value)) or retrace
            except Exception as exc:  # a bad tweak must not end a long run
                _notice(f"could not apply the tweak of {name} (to {value!r}): {exc}")
                continue
            # Worded without "name=value" so that stdout metric parsing never reads it.
            print(f"tuitune: {name} -> {value!r} from epoch {self.step(self._epoch)}", flush=True)
        if retrace:
            # The compiled step captured the old Python values; trace it again.
            self.model.make_train_function(force=True)

    def _current_learning_rate(self) -> float | None:
        try:
            return float(_optimizer(self.model).learning_rate)
        except Exception:
            return None

    def _checkpoint_due(self, epoch: int) -> bool:
        last = self.params.get("epochs") if self.params else None
        if self.model.stop_training or (last is not None and epoch + 1 >= last):
            return True  # the final state is what a clone or a requeue wants
        if self.step(epoch) % self.checkpoint_every:
            return False
        if self.checkpoint_max_overhead is None or not self._last_save_seconds:
            return True
        elapsed = time.perf_counter() - self._fit_started
        return (self._save_seconds + self._last_save_seconds
                <= self.checkpoint_max_overhead * elapsed)

    def _save_checkpoint(self, step: int) -> None:
        started = time.perf_counter()
        if self._save_in_background(step):
            self._last_save_seconds = time.perf_counter() - started
            self._save_seconds += self._last_save_seconds
            return
        self._save_synchronously(step)

    def _save_in_background(self, step: int) -> bool:
        if self._background_unavailable or not self.checkpoint_background:
            return False
        if self._background is None:
            try:
                self._background = BackgroundCheckpointer(
                    self.model, tt.checkpoint_dir(),
                    lambda s: CHECKPOINT_PATTERN.format(step=s), self._checkpoint_written,
                    _notice)
            except ShadowUnavailable:
                self._background_unavailable = True
                return False
        if self._background.submit(step):
            return True
        self._background_unavailable = True  # its shadow failed: it said why
        return False

    def _checkpoint_written(self, final: Path, step: int) -> None:
        tt.checkpoint_saved(final, step)
        # The store must name the new file before an older one goes away.
        tt.flush()
        self._prune(final)

    def _save_synchronously(self, step: int) -> None:
        folder = tt.checkpoint_dir()
        # One file per epoch, named by its step: the supervisor copies the path
        # the store names, so a clone gets exactly the epoch it was told about
        # even when the trial has saved a newer one meanwhile (one shared
        # "latest" file could already hold the next epoch's weights).
        attempts = (
            (CHECKPOINT_PATTERN.format(step=step), self.model.save),
            # e.g. a subclassed model without get_config: its weights still resume.
            (WEIGHTS_PATTERN.format(step=step), self.model.save_weights),
        )
        errors = []
        started = time.perf_counter()
        for name, save in attempts:
            final = folder / name
            # Keras wants the real suffix on the file it writes, so the temporary
            # name keeps it; os.replace then puts the finished file in place at once.
            tmp = folder / f".{os.getpid()}-{name}"
            try:
                save(str(tmp))
            except Exception as exc:
                errors.append(str(exc))
                tmp.unlink(missing_ok=True)
                continue
            fsync_file(tmp)
            os.replace(tmp, final)
            fsync_dir(folder)
            self._checkpoint_written(final, step)
            self._last_sync_step = step
            self._last_save_seconds = time.perf_counter() - started
            self._save_seconds += self._last_save_seconds
            return
        if "checkpoint" not in self._warned:
            self._warned.add("checkpoint")
            _notice(f"cannot save a checkpoint ({'; '.join(errors)}); clones of this trial "
                    "will start from scratch")

    def _prune(self, newest: Path) -> None:
        """Keep the newest KEEP_CHECKPOINTS files this callback wrote; the one
        before the newest stays in case a clone is copying it right now."""
        if newest in self._saved:
            self._saved.remove(newest)
        self._saved.append(newest)
        while len(self._saved) > KEEP_CHECKPOINTS:
            self._saved.pop(0).unlink(missing_ok=True)

    def _load_initial_checkpoint(self, path: Path) -> None:
        model = self.model
        opt = getattr(model, "optimizer", None)
        if opt is not None and not opt.built:
            # Keras builds the optimizer lazily, after this hook; its slots must
            # exist now for the checkpoint's optimizer state to land somewhere.
            opt.build(model.trainable_variables)
        lr = self._current_learning_rate()
        try:
            model.load_weights(str(path))
        except Exception as exc:
            raise RuntimeError(
                f"tuitune: cannot load the checkpoint {path} this trial was cloned from "
                f"into the model ({exc}). Cloning from a checkpoint needs the same "
                "architecture: clone from scratch to change layer sizes.") from exc
        if lr is not None and self._current_learning_rate() != lr:
            # The checkpoint holds the source's learning rate; the clone's own
            # parameters (possibly a changed lr) decide.
            try:
                set_learning_rate(model, lr)
            except ValueError:
                pass  # a schedule: it restarts from the restored iteration count
        start = tt.initial_step()
        if start and hasattr(model, "_initial_epoch"):
            # Keras' own BackupAndRestore resumes fit the same way: fit reads this
            # after on_train_begin, so a script that did not pass initial_epoch
            # still continues after the checkpoint's epoch.
            self._saved_initial_epoch = (model._initial_epoch,)
            model._initial_epoch = start
        print(f"tuitune: resumed from {path} (epoch {start})", flush=True)
