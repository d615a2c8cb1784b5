"""The Keras samples: their specs load as documented, and their scripts run by
hand (no TUITUNE_* environment, no network, no cached MNIST) and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.extras import NO_KERAS, NO_SKLEARN
from tuitune.core.space import FixedParam, FloatParam, IntParam, MomentumParam, Pow2Param
from tuitune.core.spec import load_spec

SAMPLES = Path(__file__).resolve().parents[2] / "sample_specs"


def test_mnist_spec_searches_layers_and_the_units_of_each():
    spec = load_spec(SAMPLES / "mnist_mlp.toml")
    space = spec.space
    assert isinstance(space["lr"], FloatParam) and space["lr"].log and space["lr"].mutable
    assert isinstance(space["batch_size"], Pow2Param)
    assert isinstance(space["layers"], IntParam) and (space["layers"].low,
                                                      space["layers"].high) == (1, 3)
    assert isinstance(space["epochs"], FixedParam)
    assert [n for n in space.names if not isinstance(space[n], FixedParam)] == [
        "lr", "batch_size", "layers", "units_1", "units_2", "units_3"]
    # units_k exists with k layers or more; its arguments are left out otherwise.
    assert str(space["units_2"].when) == "layers >= 2"
    assert str(space["units_3"].when) == "layers >= 3"
    from tuitune.engine.launch import render_argv

    one = space.complete({"layers": 1})
    assert set(one) == {"lr", "batch_size", "layers", "units_1", "epochs"}
    argv = render_argv(spec.command, {**one, "python": "py"})
    assert "--units2" not in argv and "--units3" not in argv and "--layers" in argv
    three = render_argv(spec.command, {**space.complete({"layers": 3}), "python": "py"})
    assert three[three.index("--units3") + 1] == "64"
    assert (spec.objective.metric, spec.objective.mode) == ("val_loss", "min")
    assert spec.search.strategy == "random" and spec.budget.max_concurrent == 2
    assert spec.metrics_source == "api"


def test_momentum_spec_uses_the_momentum_scale_and_stopping_rules():
    spec = load_spec(SAMPLES / "momentum_sgd.toml")
    momentum = spec.space["momentum"]
    assert isinstance(momentum, MomentumParam) and momentum.mutable
    assert (momentum.low, momentum.high) == (0.9, 0.999)
    assert momentum.from_unit(0.5) == pytest.approx(0.99)  # 1 - 10^u: 0.99 mid-way
    assert spec.space["lr"].mutable
    assert [name for name, _ in spec.stopping] == ["asha", "divergence"]


DRIVER = """
import runpy, sys
sys.path.insert(0, {samples!r})
for argv in ({mnist!r}, {momentum!r}):
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
print("both samples ran")
"""


@pytest.mark.slow  # 20-30 s, most of it importing TensorFlow
def test_sample_scripts_run_by_hand_offline(tmp_path):
    """Both scripts, as a user would run them, outside tuitune; one interpreter so
    TensorFlow is imported once. No MNIST in this HOME: the digits notice shows."""
    pytest.importorskip("keras", reason=NO_KERAS)
    pytest.importorskip("sklearn", reason=NO_SKLEARN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUITUNE_")}
    env.update(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / ".keras"),
               TF_CPP_MIN_LOG_LEVEL="2")
    mnist = [str(SAMPLES / "train_mnist_mlp.py"), "--epochs", "2", "--limit", "300",
             "--layers", "3", "--units1", "16", "--units2", "8", "--units3", "8"]
    momentum = [str(SAMPLES / "train_momentum_sgd.py"), "--epochs", "1", "--hidden", "16"]
    driver = textwrap.dedent(DRIVER.format(samples=str(SAMPLES), mnist=mnist,
                                           momentum=momentum))
    out = subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "both samples ran" in out.stdout
    assert "training on scikit-learn's 8x8 digits instead" in out.stderr
    assert out.stdout.count("val_loss") == 3  # Keras' line for each of the 3 epochs
    leftovers = {p.name for p in tmp_path.iterdir()} - {".keras"}
    assert not leftovers  # no checkpoints or logs outside tuitune
