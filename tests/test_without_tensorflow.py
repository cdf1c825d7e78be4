"""vaekit where only JAX or only PyTorch is installed, as on a GPU machine: no TensorFlow at all.

``make test-environments`` installs the built wheel with one backend's extra into a new virtual
environment (``vaekit[jax]``, or ``vaekit`` and PyTorch) and runs this file there, from outside the
source tree. Elsewhere it is skipped: TensorFlow is installed in the development environment.
"""

import importlib.util
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support import VAEKIT

pytestmark = pytest.mark.skipif(
    os.environ.get("VAEKIT_TEST_WITHOUT_TENSORFLOW") != "1",
    reason="runs in the environments make test-environments builds",
)
BACKEND = os.environ.get("KERAS_BACKEND", "")
TINY = ["--set", "train.epochs=1", "--set", "train.batch_size=64", "--quiet"]
TINY += ["--set", "model.encoder_conv_filters=[8,8,8]"]
TINY += ["--set", "model.decoder_conv_t_filters=[8,8,1]"]


def vaekit(*arguments, env=None):
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [VAEKIT, *map(str, arguments)], capture_output=True, text=True, env=environment
    )


def ok(result):
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_there_is_no_tensorflow_here():
    assert importlib.util.find_spec("tensorflow") is None
    assert BACKEND in ("jax", "torch") and importlib.util.find_spec(BACKEND) is not None
    info = ok(vaekit("info")).stdout
    assert f"{BACKEND} (KERAS_BACKEND)" in info


def test_the_backend_is_found_without_keras_backend_set(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    (tmp_path / "keras.json").write_text('{"backend": "tensorflow"}')  # as Keras writes it
    environment["KERAS_HOME"] = str(tmp_path)
    result = subprocess.run([VAEKIT, "info"], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert f"{BACKEND} (the first installed of tensorflow, jax, torch)" in result.stdout


def test_asking_for_tensorflow_is_one_line_naming_what_to_install():
    result = vaekit("info", env={"KERAS_BACKEND": "tensorflow"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "vaekit: error: KERAS_BACKEND=tensorflow: tensorflow is not installed here; "
        "pip install 'vaekit[tensorflow]', or choose an installed backend"
    )


def test_train_and_evaluate_on_mnist(tmp_path):
    config = Path(__file__).parent / "mnist_seed.yaml"
    run = tmp_path / "mnist"
    ok(vaekit("train", "--config", config, "--out", run, "--set", "data.limit=256", *TINY))
    assert (run / "model.keras").exists() and (run / "report.html").exists()
    out = tmp_path / "evaluation.json"
    ok(vaekit("evaluate", run, "--samples", 8, "--limit", 32, "--out", out))
    assert out.exists()
    ok(vaekit("train", "--resume", run, "--set", "train.epochs=2", "--quiet"))


def test_train_on_an_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("dark", "light"):
        folder = tmp_path / "images" / label
        folder.mkdir(parents=True)
        for i in range(40):
            level = 60 if label == "dark" else 190
            pixels = np.clip(rng.normal(level, 30, (28, 28)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(folder / f"{i:02d}.png")
    run = tmp_path / "folder-run"
    ok(
        vaekit(
            "train", "--config", Path(__file__).parent / "mnist_seed.yaml", "--out", run,
            "--set", f"data.dataset={tmp_path / 'images'}", "--set", "data.test_split=0.2",
            *TINY,
        )
    )  # fmt: skip
    assert (run / "model.keras").exists()
    ok(vaekit("evaluate", run, "--samples", 4, "--limit", 8))
