"""SGD with momentum on MNIST (or the offline 8x8 digits), for `momentum_sgd.toml`.

A one-hidden-layer MLP with dropout, trained with plain SGD and momentum. Both the
learning rate and the momentum can be changed while a trial runs
(`tuitune tweak RUN ID momentum=0.99`): TuituneCallback assigns the learning rate
to the optimizer's variable, and sets the momentum and rebuilds the compiled
training step (Keras bakes that Python float into it). Runs the same by hand:

    python train_momentum_sgd.py --lr 0.05 --momentum 0.9 --dropout 0.2
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import keras  # noqa: E402

# Same folder: the data loading (MNIST if cached, else the digits) and thread limit.
from train_mnist_mlp import limit_threads, load_data  # noqa: E402

from tuitune.keras import TuituneCallback, configure_gpu_memory  # noqa: E402


def build_model(input_shape: tuple[int, ...], hidden: int, dropout: float, lr: float,
                momentum: float) -> keras.Model:
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation="softmax"),
    ])
    # momentum must start non-zero for Keras' SGD to keep momentum slots to tweak.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--dataset", choices=("auto", "mnist", "digits"), default="auto")
    ap.add_argument("--threads", type=int, default=0, help="TensorFlow CPU threads (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    limit_threads(args.threads)
    configure_gpu_memory()
    keras.utils.set_random_seed(args.seed)
    (x, y, xv, yv), name = load_data(args.dataset)
    model = build_model(x.shape[1:], args.hidden, args.dropout, args.lr, args.momentum)
    cb = TuituneCallback()  # lr and momentum tweaks are handled by its default setters
    print(f"{name}: {len(x)} training / {len(xv)} validation examples", flush=True)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(xv, yv), initial_epoch=cb.initial_epoch,
              callbacks=[cb], verbose=2)


if __name__ == "__main__":
    main()
