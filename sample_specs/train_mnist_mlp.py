"""The classic Keras MLP on MNIST (flatten, one to three Dense+ReLU layers,
softmax), wired to tuitune with one callback. Used by `mnist_mlp.toml`, which
searches the number of layers and the units of each; runs the same by hand:

    python train_mnist_mlp.py --lr 0.001 --layers 2 --units1 256 --units2 128

MNIST comes from Keras' own loader when it is already cached
(~/.keras/datasets/mnist.npz); nothing is downloaded. Otherwise the script says
so in one line and trains on scikit-learn's 8x8 digits, a real data set that
ships with scikit-learn (1,797 images), so it works offline and fast on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

# Quiet TensorFlow's C++ start-up chatter in the trial log (before it is imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from tuitune.keras import TuituneCallback, configure_gpu_memory  # noqa: E402

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def mnist_cache_path() -> Path:
    """Where Keras keeps MNIST once downloaded (KERAS_HOME, else ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def load_mnist() -> Arrays:
    (x, y), (xv, yv) = keras.datasets.mnist.load_data()
    return (x.astype("float32") / 255.0, y.astype("int64"),
            xv.astype("float32") / 255.0, yv.astype("int64"))


def load_digits_split(seed: int = 0) -> Arrays:
    """scikit-learn's 8x8 digits, split 80/20 (stratified, fixed seed)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype("float32") / 16.0  # pixel values run 0..16
    x, xv, y, yv = train_test_split(x, digits.target.astype("int64"), test_size=0.2,
                                    random_state=seed, stratify=digits.target)
    return x, y, xv, yv


def load_data(dataset: str = "auto", limit: int = 0) -> tuple[Arrays, str]:
    """(x, y, x_val, y_val) and the data set's name.

    Args:
        dataset: "mnist", "digits", or "auto" (MNIST if cached, else digits).
        limit: keep at most this many training examples (0: all), for quick runs.
    """
    name = dataset
    if dataset == "auto":
        name = "mnist" if mnist_cache_path().exists() else "digits"
        if name == "digits":
            print(f"MNIST is not cached at {mnist_cache_path()} (and is never downloaded "
                  "here): training on scikit-learn's 8x8 digits instead", file=sys.stderr,
                  flush=True)
    if name == "mnist":
        try:
            data = load_mnist()
        except Exception as exc:  # e.g. a damaged cache file that Keras would refetch
            if dataset == "mnist":
                raise
            print(f"cannot load the cached MNIST ({exc}): training on scikit-learn's "
                  "8x8 digits instead", file=sys.stderr, flush=True)
            name, data = "digits", load_digits_split()
    else:
        data = load_digits_split()
    x, y, xv, yv = data
    if limit:
        x, y = x[:limit], y[:limit]
    return (x, y, xv, yv), name


def build_model(input_shape: tuple[int, ...], units: list[int], lr: float) -> keras.Model:
    """Flatten, one Dense+ReLU layer per entry of `units`, softmax."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Flatten(),
        *[keras.layers.Dense(n, activation="relu") for n in units],
        keras.layers.Dense(10, activation="softmax"),
    ])
    # A float learning rate (not a schedule) lives in a variable: tweakable live.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def limit_threads(threads: int) -> None:
    """Give TensorFlow `threads` CPU threads, so parallel trials do not fight
    over cores (TensorFlow takes them all by default). 0 leaves its default."""
    if threads <= 0:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--layers", type=int, choices=(1, 2, 3), default=2,
                    help="hidden layers; layer k uses --unitsK")
    # --hidden1/--hidden2: the names before the layer count was searched.
    ap.add_argument("--units1", "--hidden1", dest="units1", type=int, default=256)
    ap.add_argument("--units2", "--hidden2", dest="units2", type=int, default=128)
    ap.add_argument("--units3", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--dataset", choices=("auto", "mnist", "digits"), default="auto")
    ap.add_argument("--limit", type=int, default=0, help="at most this many training examples")
    ap.add_argument("--threads", type=int, default=0, help="TensorFlow CPU threads (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tensorboard", action="store_true",
                    help="also write TensorBoard logs (to the trial folder under tuitune)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    limit_threads(args.threads)
    configure_gpu_memory()  # a no-op unless the spec caps GPU memory per trial
    keras.utils.set_random_seed(args.seed)
    (x, y, xv, yv), name = load_data(args.dataset, args.limit)
    units = [args.units1, args.units2, args.units3][: args.layers]
    model = build_model(x.shape[1:], units, args.lr)
    cb = TuituneCallback(tensorboard=args.tensorboard)
    print(f"{name}: {len(x)} training / {len(xv)} validation examples", flush=True)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(xv, yv), initial_epoch=cb.initial_epoch,
              callbacks=[cb], verbose=2)


if __name__ == "__main__":
    main()
