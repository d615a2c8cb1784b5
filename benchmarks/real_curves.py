"""Replay of the recorded learning curves (benchmarks/data/real_curves.npz).

A method asks for a configuration; it gets the *recorded configuration nearest in
the unit-cube encoding* of the sample's search space (Euclidean distance over the
searched dimensions, as `Space.encode` maps them), and sees that configuration's
curve epoch by epoch, from one of its recorded seeds (drawn per trial: two trials
of the same configuration may see different seeds, as two real runs would). A
recording extended seed by seed may hold a seed for only some configurations
(`{sample}/recorded`, (N, S) booleans); a trial draws among the seeds its
configuration has.

The truth a method is judged by is each configuration's *expected* final
validation loss, the mean over its recorded seeds at the last epoch; its regret
is that minus the best configuration's. A non-finite curve (a diverged run) has
an infinite final.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "data" / "real_curves.npz"

#: The search spaces recorded, as in the samples' specs when the recording was made
#: (mnist_mlp then had two hidden layers; it has since learnt to search 1-3). Kept
#: here so that the recording and its replay agree whatever the samples become.
SPACES = {
    "mnist_mlp": """
[space.lr]
type = "float"
low = 1e-4
high = 1e-2
log = true
[space.batch_size]
type = "pow2"
low = 32
high = 256
[space.hidden1]
type = "int"
low = 32
high = 512
log = true
[space.hidden2]
type = "int"
low = 16
high = 256
log = true
""",
    "momentum_sgd": """
[space.lr]
type = "float"
low = 0.001
high = 0.3
log = true
[space.momentum]
type = "momentum"
low = 0.9
high = 0.999
[space.dropout]
type = "float"
low = 0.0
high = 0.5
[space.hidden]
type = "int"
low = 32
high = 256
log = true
[space.batch_size]
type = "fixed"
value = 64
""",
}


def sample_space(sample: str):
    """The recorded sample's search space (a tuitune Space)."""
    import tomllib

    from tuitune.core.spec import parse_spec

    raw = tomllib.loads(f'name = "{sample}"\ncommand = ["true"]\n{SPACES[sample]}\n'
                        '[objective]\nmetric = "val_loss"\n')
    return parse_spec(raw, Path(f"<{sample} recording>")).space


@dataclass
class Recording:
    sample: str
    names: list[str]
    unit: np.ndarray  # (N, d) unit-cube encodings of the recorded configurations
    curves: np.ndarray  # (N, S, E, M) float32
    metrics: list[str]
    recorded: np.ndarray  # (N, S) bool: which seeds each configuration has

    def seed_for(self, row: int, rng: np.random.Generator) -> int:
        """One of the configuration's recorded seeds, drawn uniformly."""
        have = np.flatnonzero(self.recorded[row])
        return int(have[rng.integers(len(have))])

    @property
    def epochs(self) -> int:
        return self.curves.shape[2]

    @property
    def seeds(self) -> int:
        return self.curves.shape[1]

    def metric(self, name: str) -> np.ndarray:
        """(N, S, E) of one metric; non-finite values become inf (ranks last)."""
        values = self.curves[..., self.metrics.index(name)].astype(np.float64)
        return np.where(np.isfinite(values), values, np.inf)

    def true_final(self, name: str = "val_loss") -> np.ndarray:
        """Each configuration's expected final value: the mean over its recorded seeds."""
        finals = np.where(self.recorded, self.metric(name)[:, :, -1], 0.0)
        return finals.sum(axis=1) / self.recorded.sum(axis=1)

    def nearest(self, u: np.ndarray) -> int:
        return int(np.argmin(((self.unit - np.asarray(u)[None, :]) ** 2).sum(axis=1)))

    def space(self):
        return sample_space(self.sample)


def load(sample: str, path: Path = DATA) -> Recording:
    with np.load(path) as z:
        curves = z[f"{sample}/curves"].astype(np.float32)
        key = f"{sample}/recorded"
        recorded = z[key] if key in z.files else np.ones(curves.shape[:2], bool)
        return Recording(sample=sample, names=[str(n) for n in z[f"{sample}/names"]],
                         unit=z[f"{sample}/unit"].astype(np.float64), curves=curves,
                         metrics=[str(m) for m in z["metrics"]],
                         recorded=recorded.astype(bool))


def crossing(rec: Recording, name: str = "val_loss") -> dict[str, float]:
    """How much curves cross: Spearman correlation of a run's value at epoch e with
    the configurations' expected final, and how many of the final top 10% are in
    the top 10% at epoch e."""
    from scipy.stats import spearmanr

    values = rec.metric(name)[:, 0, :]  # one seed: what a method sees
    final = rec.true_final(name)
    finite = np.isfinite(final)
    top = final <= np.quantile(final[finite], 0.1)
    out: dict[str, float] = {}
    for e in sorted({1, 2, 3, rec.epochs // 3, rec.epochs // 2, rec.epochs - 1, rec.epochs}):
        early = values[:, e - 1]
        out[f"rho@{e}"] = float(spearmanr(early, final, nan_policy="omit")[0])
        early_top = early <= np.quantile(early[np.isfinite(early)], 0.1)
        out[f"top10@{e}"] = float((early_top & top).sum() / top.sum())
    if rec.seeds > 1:  # seed noise: the same configuration's two final values
        a, b = rec.metric(name)[:, 0, -1], rec.metric(name)[:, 1, -1]
        ok = np.isfinite(a) & np.isfinite(b) & rec.recorded[:, 0] & rec.recorded[:, 1]
        out["rho seeds"] = float(spearmanr(a[ok], b[ok])[0])
    return out
