"""Shared fixtures: real MNIST subsets and small configs, all with fixed seeds."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

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
