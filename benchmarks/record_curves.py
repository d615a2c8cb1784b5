"""Record real learning curves of the TensorFlow samples, once, for the replay benchmark.

For each sample (`mnist_mlp`, `momentum_sgd`) this trains a few hundred
configurations, drawn as a scrambled Sobol sequence in the unit cube of the
sample's search space (`real_curves.SPACES`: the samples' spaces when this was
recorded, mnist_mlp with two hidden layers; decoded with tuitune's `Space`, so
integers and powers of two are real values), for EPOCHS epochs and several seeds each, on
scikit-learn's 8x8 digits (the samples' offline data, same 80/20 split), and
keeps per epoch: train loss and accuracy (Keras' running means over the epoch),
validation loss and accuracy.

Why not `model.fit` per configuration: on 2 shared cores Keras spends about 10 s
per 27-epoch fit of these tiny models (tracing and per-epoch overhead), which
would take hours. So the models are trained *batched*: K models of one sample
that share a batch size become one stacked TensorFlow computation (weights of
shape (K, fan_in, H), hidden units beyond a model's own width masked to zero,
which keeps their weights and gradients exactly zero). Each model is the
sample's model and optimizer, written out: the same layers (Dense+ReLU,
Dropout, softmax), Glorot-uniform weights and zero biases with each model's own
fan-in/fan-out, sparse categorical cross-entropy, Keras 3's Adam (epsilon 1e-7)
and SGD-with-momentum update rules, its own shuffling of the training set each
epoch, its own dropout masks. `--check` trains a few configurations both ways
and prints the two curves side by side.

Output: one compressed .npz (float16 curves) with the configurations (values and
unit-cube encodings), seeds and metric names; see `benchmarks/real_curves.py`
for the replay.

Run (about 4 min of CPU; much longer niced on a shared machine):
    nice -n 10 python benchmarks/record_curves.py --configs 192 --seeds 2 --epochs 12 \
        --out benchmarks/data/real_curves.npz
Add a seed to an existing recording (resumable; keeps what the file holds):
    nice -n 10 python benchmarks/record_curves.py --extend --samples mnist_mlp --seeds 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_specs"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_curves import sample_space  # noqa: E402  (the recorded spaces)

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
SAMPLES = ("mnist_mlp", "momentum_sgd")


@dataclass
class Group:
    """K models of one sample trained as one stacked computation."""

    sample: str
    rows: np.ndarray  # indices into the sample's configuration table
    seed: int
    batch_size: int
    widths: np.ndarray  # (K, n_hidden) real hidden widths
    lr: np.ndarray  # (K,)
    momentum: np.ndarray  # (K,) SGD momentum (unused by Adam)
    dropout: np.ndarray  # (K,)


def model_settings(sample: str, params: dict) -> tuple[int, list[int], float, float, float]:
    """(batch size, hidden widths, lr, momentum, dropout) of one configuration."""
    if sample == "mnist_mlp":
        return (int(params["batch_size"]), [int(params["hidden1"]), int(params["hidden2"])],
                float(params["lr"]), 0.0, 0.0)
    return (int(params["batch_size"]), [int(params["hidden"])], float(params["lr"]),
            float(params["momentum"]), float(params["dropout"]))


def glorot(rng: np.random.Generator, fan_in: int, fan_out: int, shape: tuple[int, int]):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    w = np.zeros(shape, dtype=np.float32)
    w[:fan_in, :fan_out] = rng.uniform(-limit, limit, (fan_in, fan_out))
    return w


def train_group(group: Group, data, epochs: int) -> np.ndarray:
    """Train the group's models; returns curves of shape (K, epochs, len(METRICS))."""
    import tensorflow as tf

    x, y, xv, yv = data
    x = x.reshape(len(x), -1)
    xv = xv.reshape(len(xv), -1)
    k, n_in = len(group.rows), x.shape[1]
    sizes = [n_in, *(int(w) for w in group.widths.max(axis=0)), 10]
    real = [[n_in, *map(int, row), 10] for row in group.widths]
    rngs = [np.random.default_rng([group.seed, int(r), 7]) for r in group.rows]
    weights, biases, masks = [], [], []
    for layer in range(len(sizes) - 1):
        w = np.stack([glorot(rngs[i], real[i][layer], real[i][layer + 1],
                             (sizes[layer], sizes[layer + 1])) for i in range(k)])
        weights.append(tf.Variable(w))
        biases.append(tf.Variable(np.zeros((k, 1, sizes[layer + 1]), np.float32)))
        if layer < len(sizes) - 2:
            m = np.zeros((k, 1, sizes[layer + 1]), np.float32)
            for i in range(k):
                m[i, 0, :real[i][layer + 1]] = 1.0
            masks.append(tf.constant(m))
    variables = [v for pair in zip(weights, biases, strict=True) for v in pair]
    slots_m = [tf.Variable(tf.zeros_like(v)) for v in variables]
    slots_v = [tf.Variable(tf.zeros_like(v)) for v in variables]
    lr = tf.constant(group.lr.reshape(k, 1, 1), tf.float32)
    momentum = tf.constant(group.momentum.reshape(k, 1, 1), tf.float32)
    keep = tf.constant((1.0 - group.dropout).reshape(k, 1, 1), tf.float32)
    adam = group.sample == "mnist_mlp"
    step_count = tf.Variable(0.0)

    def forward(xb, training: bool, seed=None):
        h = xb
        for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = tf.matmul(h, w) + b
            if layer < len(masks):
                h = tf.nn.relu(h) * masks[layer]
                if training and not adam:  # the SGD sample's Dropout after its hidden layer
                    u = tf.random.stateless_uniform(tf.shape(h), seed)
                    h = tf.where(u < keep, h / keep, 0.0)
        return h  # logits

    def losses(logits, yb):
        labels = tf.broadcast_to(yb, tf.shape(logits)[:2])
        per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)  # (K, B)
        right = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels),
                        tf.float32)
        return per, right

    @tf.function(reduce_retracing=True)
    def train_step(xb, yb, seed):
        with tf.GradientTape() as tape:
            per, right = losses(forward(xb, True, seed), yb)
            total = tf.reduce_sum(tf.reduce_mean(per, axis=1))  # models are independent
        grads = tape.gradient(total, variables)
        step_count.assign_add(1.0)
        t = step_count
        for var, g, m, v in zip(variables, grads, slots_m, slots_v, strict=True):
            if adam:  # Keras 3 Adam
                alpha = lr * tf.sqrt(1.0 - 0.999 ** t) / (1.0 - 0.9 ** t)
                m.assign_add((g - m) * 0.1)
                v.assign_add((tf.square(g) - v) * 0.001)
                var.assign_sub(alpha * m / (tf.sqrt(v) + 1e-7))
            else:  # Keras 3 SGD with momentum (not Nesterov)
                m.assign(momentum * m - lr * g)
                var.assign_add(m)
        return tf.reduce_sum(per, axis=1), tf.reduce_sum(right, axis=1)

    @tf.function
    def evaluate(xb, yb):
        per, right = losses(forward(xb, False), yb)
        return tf.reduce_mean(per, axis=1), tf.reduce_mean(right, axis=1)

    curves = np.full((k, epochs, len(METRICS)), np.nan, np.float32)
    n, bs = len(x), group.batch_size
    xv_t = tf.constant(np.broadcast_to(xv, (k, *xv.shape)).copy())
    yv_t = tf.constant(yv.astype(np.int32))
    y32 = y.astype(np.int32)
    for epoch in range(epochs):
        order = np.stack([r.permutation(n) for r in rngs])  # each model's own shuffle
        loss_sum = np.zeros(k)
        right_sum = np.zeros(k)
        for start in range(0, n, bs):
            idx = order[:, start:start + bs]
            seed = tf.constant([group.seed * 100003 + epoch, start], tf.int32)
            ls, rs = train_step(tf.constant(x[idx]), tf.constant(y32[idx]),
                                seed)
            loss_sum += ls.numpy()
            right_sum += rs.numpy()
        vl, va = evaluate(xv_t, yv_t)
        curves[:, epoch] = np.stack([loss_sum / n, right_sum / n, vl.numpy(), va.numpy()], 1)
    return curves


def keras_curve(sample: str, params: dict, seed: int, data, epochs: int) -> np.ndarray:
    """The same configuration trained by the sample's own model.fit (for --check)."""
    import keras
    import train_mnist_mlp as mlp
    import train_momentum_sgd as sgd

    x, y, xv, yv = data
    keras.utils.set_random_seed(seed)
    bs, widths, lr, momentum, dropout = model_settings(sample, params)
    if sample == "mnist_mlp":
        model = mlp.build_model(x.shape[1:], widths, lr)
    else:
        model = sgd.build_model(x.shape[1:], widths[0], dropout, lr, momentum)
    h = model.fit(x, y, batch_size=bs, epochs=epochs, validation_data=(xv, yv),
                  verbose=0).history
    return np.array([h[m] for m in METRICS]).T


def configurations(sample: str, n: int, seed: int) -> tuple[list[dict], np.ndarray]:
    """n Sobol points decoded by the sample's space, and their unit-cube encodings."""
    from scipy.stats import qmc

    space = sample_space(sample)
    u = qmc.Sobol(len(space.dims), scramble=True, seed=seed).random(n)
    params = [space.decode(row) for row in u]
    return params, np.array([space.encode(p) for p in params])


def groups_for(sample: str, params: list[dict], seed: int, size: int) -> list[Group]:
    settings = [model_settings(sample, p) for p in params]
    out = []
    for bs in sorted({s[0] for s in settings}):
        rows = [i for i, s in enumerate(settings) if s[0] == bs]
        rows.sort(key=lambda i: np.prod(settings[i][1]))  # similar widths pad little
        for start in range(0, len(rows), size):
            chunk = np.array(rows[start:start + size])
            out.append(Group(sample, chunk, seed, bs,
                             np.array([settings[i][1] for i in chunk]),
                             np.array([settings[i][2] for i in chunk]),
                             np.array([settings[i][3] for i in chunk]),
                             np.array([settings[i][4] for i in chunk])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", type=int, default=192, help="configurations per sample")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--group", type=int, default=16,
                    help="MLP models trained together (sorted by size: padding stays small)")
    ap.add_argument("--group-sgd", type=int, default=96,
                    help="momentum-SGD models trained together (one hidden layer, cheap)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", nargs="+", default=list(SAMPLES), choices=SAMPLES)
    ap.add_argument("--check", type=int, default=0,
                    help="instead: train this many configurations batched and with model.fit")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/data/real_curves.npz")
    ap.add_argument("--extend", action="store_true",
                    help="add seeds (up to --seeds) to the --out recording of --samples, "
                         "keeping what it holds; resumable")
    args = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from train_mnist_mlp import load_digits_split

    data = load_digits_split()
    if args.check:
        for sample in args.samples:
            params, _ = configurations(sample, args.check, 1)
            for g in groups_for(sample, params, 0, args.check):
                batched = train_group(g, data, args.epochs)
                for j, row in enumerate(g.rows):
                    ref = keras_curve(sample, params[row], 0, data, args.epochs)
                    print(sample, params[row])
                    for e in range(0, args.epochs, max(1, args.epochs // 6)):
                        print(f"  epoch {e + 1}: batched val_loss {batched[j, e, 2]:.3f} "
                              f"acc {batched[j, e, 3]:.3f} | model.fit {ref[e, 2]:.3f} "
                              f"{ref[e, 3]:.3f}")
        return 0

    if args.extend:
        return extend(args, data)
    out: dict[str, np.ndarray] = {"metrics": np.array(METRICS)}
    started = time.perf_counter()
    tables = {sample: configurations(sample, args.configs, SAMPLES.index(sample))
              for sample in args.samples}
    curves = {sample: np.full((args.configs, args.seeds, args.epochs, len(METRICS)), np.nan,
                              np.float32) for sample in args.samples}
    # Seed by seed, saving after each: an interrupted recording still has whole seeds.
    # The cheap sample's seeds first: the MLP's second seed is the most expensive part.
    order = sorted(((seed, sample) for seed in range(args.seeds) for sample in args.samples),
                   key=lambda p: (p[0] > 0 and p[1] == "mnist_mlp", p[0], p[1] == "mnist_mlp"))
    for seed, sample in order:
        params, unit = tables[sample]
        names = [p.name for p in sample_space(sample).dims]
        size = args.group if sample == "mnist_mlp" else args.group_sgd
        for g in groups_for(sample, params, seed, size):
            curves[sample][g.rows, seed] = train_group(g, data, args.epochs)
            print(f"{sample} seed {seed}: batch {g.batch_size}, {len(g.rows)} models done "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        out[f"{sample}/curves"] = curves[sample][:, :seed + 1].astype(np.float16)
        out[f"{sample}/unit"] = unit.astype(np.float32)
        out[f"{sample}/params"] = np.array([[float(p[n]) for n in names] for p in params])
        out[f"{sample}/names"] = np.array(names)
        out["info"] = np.array(
            f"epochs={args.epochs} configs={args.configs} data=sklearn digits 1437/360 "
            f"seconds={time.perf_counter() - started:.0f} threads={args.threads}")
        save(args.out, out)
    return 0


def save(path: Path, out: dict[str, np.ndarray]) -> None:
    """Write atomically: an interrupted run leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    print(f"written {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr, flush=True)


def extend(args: argparse.Namespace, data) -> int:
    """Add seeds to an existing recording (up to --seeds per configuration) without
    re-recording what it holds. The configurations are re-derived (same Sobol seed) and
    must match the file's. Saved after every group, so an interrupted run keeps a
    partial seed; `{sample}/recorded` (N, S) marks which (configuration, seed) curves
    exist, and the replay uses only those."""
    with np.load(args.out) as z:
        out = {k: z[k] for k in z.files}
    started = time.perf_counter()
    for sample in args.samples:
        old = out[f"{sample}/curves"].astype(np.float32)
        n, s_old, epochs = old.shape[:3]
        params, unit = configurations(sample, n, SAMPLES.index(sample))
        if not np.allclose(unit.astype(np.float32), out[f"{sample}/unit"], atol=1e-6):
            print(f"error: {sample}: the file's configurations are not this script's",
                  file=sys.stderr)
            return 2
        seeds = max(args.seeds, s_old)
        curves = np.full((n, seeds, epochs, len(METRICS)), np.nan, np.float32)
        curves[:, :s_old] = old
        recorded = np.zeros((n, seeds), bool)
        recorded[:, :s_old] = out.get(f"{sample}/recorded", np.ones((n, s_old), bool))
        size = args.group if sample == "mnist_mlp" else args.group_sgd
        for seed in range(seeds):
            todo = [i for i in range(n) if not recorded[i, seed]]
            if not todo:
                continue
            for g in groups_for(sample, [params[i] for i in todo], seed, size):
                g.rows = np.array(todo)[g.rows]  # back to the table's row numbers
                curves[g.rows, seed] = train_group(g, data, epochs)
                recorded[g.rows, seed] = True
                out[f"{sample}/curves"] = curves.astype(np.float16)
                out[f"{sample}/recorded"] = recorded
                print(f"{sample} seed {seed}: batch {g.batch_size}, {len(g.rows)} models done, "
                      f"{int(recorded[:, seed].sum())}/{n} "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
                save(args.out, out)
        out["info"] = np.array(f"{out['info']}; --extend {sample} to {seeds} seeds: "
                               f"{time.perf_counter() - started:.0f} s")
        save(args.out, out)
    return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
