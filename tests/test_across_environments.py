"""A run folder written where one backend is installed, read where that backend is not.

``make test-environments`` installs the built wheel into three new virtual environments, each
with one backend only (TensorFlow, JAX, PyTorch), and runs this file in each of them twice, from
outside the source tree: first ``-k write`` (each trains a tiny run into
``$VAEKIT_ACROSS_RUNS/<backend>``), then ``-k read`` (each evaluates and resumes the runs the other
two wrote). A run trained on a PyTorch GPU machine and looked at on a TensorFlow laptop is the
case this guards: the test environment of the source tree has all three backends installed, so it
cannot see an import of the writer's backend that only the reader lacks. Elsewhere it is skipped.
"""

import importlib.util
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import VAEKIT

RUNS = os.environ.get("VAEKIT_ACROSS_RUNS")
pytestmark = pytest.mark.skipif(
    not RUNS, reason="runs in the environments make test-environments builds"
)
BACKEND = os.environ.get("KERAS_BACKEND", "")
BACKENDS = ("tensorflow", "jax", "torch")
MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# Each writer trains another KL wiring, so the three runs also cover three model classes.
WIRINGS = {"tensorflow": "layer", "jax": "add_loss", "torch": "train_step"}
TINY = [
    "--set", "data.limit=128", "--set", "train.epochs=1", "--set", "train.batch_size=64",
    "--set", "model.encoder_conv_filters=[8,8,8]", "--set", "model.decoder_conv_t_filters=[8,8,1]",
    "--quiet",
]  # fmt: skip


def vaekit(*arguments):
    return subprocess.run([VAEKIT, *map(str, arguments)], capture_output=True, text=True)


def ok(result):
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_only_one_backend_is_installed_here():
    assert BACKEND in BACKENDS, f"KERAS_BACKEND={BACKEND!r}"
    installed = [name for name in BACKENDS if importlib.util.find_spec(MODULES[name]) is not None]
    assert installed == [BACKEND]


def test_write_a_run():
    config = Path(__file__).parent / "mnist_seed.yaml"
    run = Path(RUNS) / BACKEND
    shutil.rmtree(run, ignore_errors=True)
    wiring = f"model.kl_strategy={WIRINGS[BACKEND]}"
    ok(vaekit("train", "--config", config, "--out", run, "--set", wiring, *TINY))
    assert (run / "model.keras").is_file()


@pytest.mark.parametrize("writer", BACKENDS)
def test_read_the_run_another_backend_wrote(writer, tmp_path):
    if writer == BACKEND:
        pytest.skip("written here")
    assert importlib.util.find_spec(MODULES[writer]) is None, f"{writer} is installed here"
    run = Path(RUNS) / writer
    assert (run / "model.keras").is_file(), f"{writer} wrote no run in {run}"
    out = tmp_path / "evaluation.json"
    ok(vaekit("evaluate", run, "--samples", 2, "--limit", 32, "--out", out, "--quiet"))
    assert out.is_file()
    # Resuming loads the optimizer state the writer saved, and trains on with it here.
    copy = shutil.copytree(run, tmp_path / "resumed")
    resumed = ok(vaekit("train", "--resume", copy, "--set", "train.epochs=2", "--quiet"))
    assert f"written on the {writer} backend; resuming on {BACKEND}" in resumed.stderr
    rows = [line.split(",") for line in (copy / "metrics.csv").read_text().splitlines()[1:]]
    assert [row[0] for row in rows] == ["1", "2"] and math.isfinite(float(rows[-1][1]))
