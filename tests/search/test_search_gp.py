"""The GP and log-EI against independent references (scikit-learn, mpmath, finite
differences)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuitune.search.acquisition import LogEI, dlog_h, log_h
from tuitune.search.gp import GaussianProcess, Hyper, squared_diffs
from tuitune.search.gp_fit import _log_prior, fit_gp, from_raw, neg_log_posterior, to_raw


def data(n: int = 20, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 - 0.5 * x[:, 2] + rng.normal(0, 0.05, n)
    return x, (y - y.mean()) / y.std()


HYPER = Hyper(inv_sq_ls=np.array([4.0, 1.5, 0.3]), scale=1.3, noise=0.02)


def sklearn_gp(x: np.ndarray, y: np.ndarray, h: Hyper):  # type: ignore[no-untyped-def]
    pytest.importorskip("sklearn")
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(h.scale, "fixed") * Matern(
        h.length_scales, "fixed", nu=2.5
    ) + WhiteKernel(h.noise, "fixed")
    return GaussianProcessRegressor(kernel, alpha=0.0, optimizer=None).fit(x, y)


def test_posterior_and_likelihood_match_sklearn() -> None:
    x, y = data()
    ours = GaussianProcess(x, y, np.zeros(3, bool), HYPER)
    ref = sklearn_gp(x, y, HYPER)
    xq = np.random.default_rng(1).random((15, 3))
    mean, var = ours.posterior(xq)
    ref_mean, ref_std = ref.predict(xq, return_std=True)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-8, atol=1e-12)
    # scikit-learn's predictive variance includes the white noise.
    np.testing.assert_allclose(var + HYPER.noise, ref_std**2, rtol=1e-8)
    assert ours.log_marginal_likelihood() == pytest.approx(
        ref.log_marginal_likelihood_value_, rel=1e-10
    )


def test_fit_reaches_at_least_the_objective_of_sklearns_optimum() -> None:
    pytest.importorskip("sklearn")
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x, y = data(30)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.ones(3), (1e-2, 1e2), nu=2.5) + (
        WhiteKernel(0.1, (1e-6, 1.0))
    )
    ref = GaussianProcessRegressor(kernel, alpha=0.0, n_restarts_optimizer=3, random_state=0)
    ref.fit(x, y)
    k = ref.kernel_
    ref_hyper = Hyper(1.0 / k.k1.k2.length_scale**2, k.k1.k1.constant_value, k.k2.noise_level)
    sq = squared_diffs(x, x, np.zeros(3, bool))
    ref_obj, _ = neg_log_posterior(to_raw(ref_hyper, 1e-6), sq, y, 1e-6, False)
    ours = fit_gp(x, y, np.zeros(3, bool), min_noise=1e-6, n_random=2)
    our_obj, _ = neg_log_posterior(to_raw(ours.hyper, 1e-6), sq, y, 1e-6, False)
    # Same objective (likelihood + prior): ours is at least as good as sklearn's point,
    # and its likelihood is close to sklearn's maximum likelihood.
    assert our_obj <= ref_obj + 1e-6
    assert ours.log_marginal_likelihood() > ref.log_marginal_likelihood_value_ - 3.0


@pytest.mark.parametrize("deterministic", [False, True])
def test_likelihood_gradient_matches_finite_differences(deterministic: bool) -> None:
    x, y = data(12)
    is_cat = np.array([False, False, True])
    x[:, 2] = np.floor(x[:, 2] * 3) / 3 + 1 / 6
    sq = squared_diffs(x, x, is_cat)
    raw = np.array([0.3, -0.7, 1.1, 0.2, math.log(0.05)])
    f, g = neg_log_posterior(raw, sq, y, 1e-6, deterministic)
    num = np.zeros_like(raw)
    for i in range(len(raw)):
        e = np.zeros_like(raw)
        e[i] = 1e-6
        num[i] = (
            neg_log_posterior(raw + e, sq, y, 1e-6, deterministic)[0]
            - neg_log_posterior(raw - e, sq, y, 1e-6, deterministic)[0]
        ) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


def test_categorical_dimension_uses_hamming_distance() -> None:
    x = np.array([[0.1, 1 / 6], [0.1, 5 / 6], [0.1, 1 / 6]])
    h = Hyper(np.array([1.0, 2.0]), 1.0, 1e-3)
    gp = GaussianProcess(x[:2], np.array([0.0, 1.0]), np.array([False, True]), h)
    k = gp.kernel(x, x)
    r = math.sqrt(5 * 2.0)
    assert k[0, 1] == pytest.approx((1 + r + r * r / 3) * math.exp(-r))
    assert k[0, 2] == pytest.approx(1.0)
    # Categories 0 and 2 are as far apart as 0 and 1: not ordinal.
    x3 = np.array([[0.1, 1 / 6], [0.1, 0.5], [0.1, 5 / 6]])
    k3 = gp.kernel(x3, x3)
    assert k3[0, 1] == pytest.approx(k3[0, 2])


def test_posterior_grad_variance_is_accurate_next_to_the_data() -> None:
    """The acquisition's value comes from posterior_grad: its variance must keep
    its digits where K is ill-conditioned (long length scales, the deterministic
    noise floor), or L-BFGS-B's line searches see noise and fail. With the
    explicit inverse it was off by 22% here."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    y = np.sin(6 * x[:, 0]) + x[:, 1]
    gp = GaussianProcess(x, (y - y.mean()) / y.std(), np.zeros(3, bool),
                         Hyper(np.full(3, 0.5), 1.0, 1e-8))
    xq = x[:20] + 1e-5
    _, var, _, _ = gp.posterior_grad(xq)
    np.testing.assert_allclose(var, gp.posterior(xq)[1], rtol=1e-4)


def test_round_trip_of_raw_hyperparameters() -> None:
    back = from_raw(to_raw(HYPER, 1e-6), 1e-6, False)
    np.testing.assert_allclose(back.inv_sq_ls, HYPER.inv_sq_ls)
    assert back.scale == pytest.approx(HYPER.scale) and back.noise == pytest.approx(HYPER.noise)
    value, grad = _log_prior(HYPER.inv_sq_ls, HYPER.scale, HYPER.noise, 1e-6, False)
    assert math.isfinite(value) and grad.shape == (5,)


def test_posterior_gradients_match_finite_differences() -> None:
    x, y = data()
    is_cat = np.array([False, False, True])
    x[:, 2] = np.floor(x[:, 2] * 2) / 2 + 0.25
    gp = GaussianProcess(x, y, is_cat, HYPER)
    xq = np.random.default_rng(2).random((4, 3))
    xq[:, 2] = 0.25
    mean, var, dmean, dvar = gp.posterior_grad(xq)
    m0, v0 = gp.posterior(xq)
    np.testing.assert_allclose(mean, m0, rtol=1e-10)
    np.testing.assert_allclose(var, v0, rtol=1e-8)
    for j in range(2):
        e = np.zeros(3)
        e[j] = 1e-6
        mp, vp = gp.posterior(xq + e)
        mm, vm = gp.posterior(xq - e)
        np.testing.assert_allclose(dmean[:, j], (mp - mm) / 2e-6, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dvar[:, j], (vp - vm) / 2e-6, rtol=1e-5, atol=1e-7)
    assert np.all(dmean[:, 2] == 0.0) and np.all(dvar[:, 2] == 0.0)


def _log_h_reference(z: float) -> float:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    zm = mpmath.mpf(z)
    return float(mpmath.log(zm * mpmath.ncdf(zm) + mpmath.npdf(zm)))


@pytest.mark.parametrize("z", [-24.0, -10.0, -3.0, -1.0, -0.999, -0.3, 0.0, 0.7, 2.5, 8.0])
def test_log_h_matches_high_precision_formula(z: float) -> None:
    assert float(log_h(np.array([z]))[0]) == pytest.approx(_log_h_reference(z), rel=1e-12)


@pytest.mark.parametrize("z", [-25.5, -40.0, -300.0, -1e4, -1e9])
def test_log_h_extreme_z_is_finite_and_accurate(z: float) -> None:
    value = float(log_h(np.array([z]))[0])
    assert math.isfinite(value)
    assert value == pytest.approx(_log_h_reference(z), rel=1e-9)


def test_log_h_is_monotone_and_smooth_across_branches() -> None:
    z = np.concatenate([-np.logspace(10, 0, 400), np.linspace(-1.5, 6, 400)])
    z.sort()
    values = log_h(z)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) > 0)
    edge = log_h(np.array([-1.0 - 1e-12, -1.0 + 1e-12]))
    assert edge[0] == pytest.approx(edge[1], rel=1e-9)


@pytest.mark.parametrize("z", [-1e5, -60.0, -26.0, -5.0, -1.0, 0.0, 3.0])
def test_log_h_derivative_matches_finite_differences(z: float) -> None:
    eps = 1e-6 * max(1.0, abs(z))
    num = (log_h(np.array([z + eps])) - log_h(np.array([z - eps])))[0] / (2 * eps)
    ana = dlog_h(np.array([z]), log_h(np.array([z])))[0]
    assert ana == pytest.approx(num, rel=1e-5)


def test_log_ei_gradient_matches_finite_differences() -> None:
    x, y = data()
    gp = GaussianProcess(x, y, np.zeros(3, bool), HYPER)
    acq = LogEI(gp, threshold=float(np.min(y)) - 0.5)
    xq = np.random.default_rng(3).random((5, 3))
    values, grad = acq.value_and_grad(xq)
    np.testing.assert_allclose(values, acq(xq), rtol=1e-10)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-6
        num = (acq(xq + e) - acq(xq - e)) / 2e-6
        np.testing.assert_allclose(grad[:, j], num, rtol=1e-4, atol=1e-6)


def test_log_ei_far_from_the_threshold_is_finite() -> None:
    x, y = data()
    gp = GaussianProcess(x, y, np.zeros(3, bool), Hyper(np.ones(3), 1.0, 1e-6))
    acq = LogEI(gp, threshold=-1e3)
    values, grad = acq.value_and_grad(x[:3] + 1e-3)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grad))
