"""How well does a learning-curve extrapolation from a trial's first points rank
configurations, against the raw value at the same epoch? (issue 18 follow-up)

For each recorded configuration of a sample (benchmarks/data/real_curves.npz, seed 0's
curve), it extrapolates the val_loss curve from its first e epochs to the last epoch with
the predict rule's families (tuitune.stopping.predict.extrapolate) and reports, for the
raw value at epoch e and for the extrapolated final: the Spearman correlation with the
configurations' expected final, and the share of the final best 10% that are in the best
third by that value (what a cut like ASHA's top 1/3 would keep).

    python benchmarks/diagnose_extrapolation.py --sample momentum_sgd
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from real_curves import load  # noqa: E402

from tuitune.stopping.predict import extrapolate  # noqa: E402


def kept(by: np.ndarray, top: np.ndarray, ok: np.ndarray) -> float:
    """The share of the `top` configurations in the best third by `by`."""
    best_third = by <= np.quantile(by[ok], 1 / 3)
    return float((best_third & top & ok).sum() / (top & ok).sum())


def main(argv: list[str] | None = None) -> int:
    from scipy.stats import spearmanr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", default="momentum_sgd")
    ap.add_argument("--epochs", type=int, nargs="*", default=[1, 2, 3, 4, 6, 9])
    ap.add_argument("--noise", type=float, default=0.01, help="the noise given to the fit")
    args = ap.parse_args(argv)
    rec = load(args.sample)
    curves, truth = rec.metric("val_loss")[:, 0, :], rec.true_final()
    last = curves.shape[1]
    ok = np.isfinite(truth) & np.all(np.isfinite(curves), axis=1)
    top = truth <= np.quantile(truth[np.isfinite(truth)], 0.1)
    print(f"{args.sample}: {int(ok.sum())} configurations with finite curves (seed 0)")
    print("| epoch | raw: Spearman | raw: top 10% kept in best third | extrapolated: Spearman "
          "| extrapolated: top 10% kept in best third |")
    print("|---:|---:|---:|---:|---:|")
    for e in args.epochs:
        raw = curves[:, e - 1]
        row = f"| {e} | {spearmanr(raw[ok], truth[ok])[0]:.2f} | {kept(raw, top, ok):.0%} |"
        if e >= 3:  # the families need three points
            ex = np.full(len(raw), np.nan)
            for i in np.flatnonzero(ok):
                ex[i] = extrapolate(np.arange(1, e + 1), curves[i, :e], last, args.noise)[0]
            row += f" {spearmanr(ex[ok], truth[ok])[0]:.2f} | {kept(ex, top, ok):.0%} |"
        else:
            row += " n/a | n/a |"
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
