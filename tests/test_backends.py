"""A Keras backend on which a KL wiring does not train yet is one clear line, before any work.

Keras 3 users often export ``KERAS_BACKEND``. Today TensorFlow trains all four wirings, PyTorch
only ``train_step`` (the others fail inside Keras's loss handling), JAX none. The CLI checks the
combination before it loads data or makes a run folder.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaekit.errors import ConfigError
from vaekit.models.strategies import check_backend

CONFIG = str(Path(__file__).parents[1] / "configs" / "mnist_seed.yaml")
VAEKIT = str(Path(sys.executable).with_name("vaekit"))
TRAINS = {
    "tensorflow": {"layer", "add_loss", "train_step", "multi_output"},
    "torch": {"train_step"},
    "jax": set(),
}


@pytest.mark.parametrize("backend", list(TRAINS))
@pytest.mark.parametrize("strategy", ["layer", "add_loss", "train_step", "multi_output"])
def test_each_combination_trains_or_says_what_does(backend, strategy):
    if strategy in TRAINS[backend]:
        check_backend(strategy, backend)
        return
    with pytest.raises(ConfigError) as raised:
        check_backend(strategy, backend)
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and f"KERAS_BACKEND={backend}" in message
    if TRAINS[backend]:
        assert f"{strategy!r} does not train on the {backend} backend" in message
        assert "use kl_strategy train_step" in message
    else:
        assert f"no kl_strategy trains on the {backend} backend yet" in message
        assert "tensorflow: layer, add_loss, train_step, multi_output; torch: train_step" in message


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def train_on(backend: str, strategy: str, out: Path):
    settings = [f"model.kl_strategy={strategy}", "data.limit=128", "train.batch_size=64"]
    settings.append("train.epochs=1")
    sets = [item for setting in settings for item in ("--set", setting)]
    return subprocess.run(
        [VAEKIT, "train", "--config", CONFIG, "--out", str(out), "--quiet", *sets],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": backend},
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "strategy"),
    [("torch", "layer"), ("torch", "multi_output"), ("torch", "train_step"), ("jax", "layer")],
)
def test_the_console_script_on_another_backend(tmp_path, backend, strategy):
    if not installed(backend):
        pytest.skip(f"{backend} is not installed here (CI installs torch for the slow tests)")
    out = tmp_path / "run"
    result = train_on(backend, strategy, out)
    if strategy in TRAINS[backend]:
        assert result.returncode == 0, result.stderr
        assert (out / "model.keras").exists()
        return
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"KERAS_BACKEND={backend}" in lines[0], result.stderr
    assert not out.exists()
