"""Shared fixtures: real MNIST subsets and small configs, all with fixed seeds."""

import fcntl
import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from support import train_tiny  # noqa: E402

from vaekit import datasets, hardware  # noqa: E402

STRATEGIES = ["layer", "add_loss", "train_step", "multi_output"]
# Where TensorFlow cannot compute in bfloat16 at all (oneDNN capped below AVX512_CORE on an
# AVX-512 CPU), the bf16 tests are skipped; a real AVX2 CPU emulates bf16 and runs them.
BF16_UNAVAILABLE = hardware.bfloat16_unavailable(hardware.CpuInfo.read(), hardware.isa_cap())
needs_bf16 = pytest.mark.skipif(BF16_UNAVAILABLE is not None, reason=str(BF16_UNAVAILABLE))


@pytest.fixture(scope="session")
def mnist_small():
    """The first 512 training and 128 test MNIST images with labels."""
    (x_train, y_train), (x_test, y_test) = datasets.load("mnist", limit=512)
    return x_train, y_train, x_test[:128], y_test[:128]


@pytest.fixture
def images(mnist_small):
    """A fixed batch of 32 real MNIST images (N, 28, 28, 1) in [0, 1]."""
    return np.array(mnist_small[0][:32])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One finished tiny run (support.TINY, trained by the console script), trained once per test
    run, also across pytest-xdist's workers (a file lock), for every test that only reads it.

    A test that changes a run changes a copy of it (support.copy_run); the run's folder and its
    config file (``run.yaml`` beside it) must stay as they were written.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder all workers' temporary folders share
    folder, done = root / "tiny-shared", root / "tiny-shared.done"
    with open(root / "tiny-shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # left by a worker that failed
            folder.mkdir()
            train_tiny(folder / "run")
            done.touch()
    return folder / "run"
