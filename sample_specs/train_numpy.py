"""A tiny numpy-only training script: a one-hidden-layer MLP on two interleaved
spirals, trained with minibatch SGD. It uses tuitune's in-trial API (live tweaks of
the learning rate, checkpoints for clone-from-checkpoint, early stop requests) and
runs just the same by hand: `python train_numpy.py --lr 0.1`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tuitune.trial as tt


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    angle = t + label * np.pi
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return x + rng.normal(0, 0.03, x.shape), label


def init(hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"w1": rng.normal(0, 1.0, (2, hidden)), "b1": np.zeros(hidden),
            "w2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, 2)), "b2": np.zeros(2)}


def forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.tanh(x @ p["w1"] + p["b1"])
    z = h @ p["w2"] + p["b2"]
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return h, probs


def loss_acc(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    _, probs = forward(p, x)
    loss = -np.log(probs[np.arange(len(y)), y] + 1e-12).mean()
    return float(loss), float((probs.argmax(1) == y).mean())


def sgd_step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> None:
    h, probs = forward(p, x)
    d = probs.copy()
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    grads = {"w2": h.T @ d, "b2": d.sum(0)}
    dh = (d @ p["w2"].T) * (1 - h**2)
    grads.update(w1=x.T @ dh, b1=dh.sum(0))
    for k in p:
        p[k] -= lr * grads[k]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--epoch-seconds", type=float, default=0.15,
                    help="pause per epoch, standing in for heavier work so curves move live")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x, y = spirals(1200, rng)
    xv, yv = spirals(400, np.random.default_rng(1))
    params = init(args.hidden, np.random.default_rng(args.hidden))
    lr, first = args.lr, 1
    start = tt.initial_checkpoint()
    if start is not None:  # cloned from a checkpoint: continue where the source was
        params = dict(np.load(start))
        first = tt.initial_step() + 1
    for epoch in range(first, args.epochs + 1):
        lr = float(tt.apply_tweaks(step=epoch).get("lr", lr))
        order = rng.permutation(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            sgd_step(params, x[idx], y[idx], lr)
        loss, acc = loss_acc(params, x, y)
        val_loss, val_acc = loss_acc(params, xv, yv)
        tt.report(epoch, loss=loss, accuracy=acc, val_loss=val_loss, val_accuracy=val_acc, lr=lr)
        print(f"epoch {epoch}: loss={loss:.4f} val_loss={val_loss:.4f} val_accuracy={val_acc:.3f}",
              flush=True)
        # A new file per epoch: a clone copies exactly the epoch the store names.
        path = tt.checkpoint_dir() / f"epoch-{epoch:04d}.npz"
        np.savez(path, **params)
        tt.checkpoint_saved(path, epoch)
        (tt.checkpoint_dir() / f"epoch-{epoch - 2:04d}.npz").unlink(missing_ok=True)
        if tt.should_stop():
            print("stopping early: tuitune asked", flush=True)
            break
        time.sleep(args.epoch_seconds)


if __name__ == "__main__":
    main()
