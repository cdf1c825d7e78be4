"""One SGD step of every KL wiring on the Keras backend of this process, from given weights, batch
and sampling noise; writes the logs and the gradients. tests/test_backends.py runs it once per
backend (``KERAS_BACKEND``) and compares.

    python tests/backend_step.py INPUTS.npz OUT.npz

``INPUTS.npz`` holds ``images`` (B, 28, 28, 1), ``epsilon`` (B, z_dim) and the trainable weights
``w0``, ``w1``, ... in the order of ``VariationalAutoencoder(...).model.trainable_weights``; with
``--write-inputs`` this script writes them itself (from its own backend's initial weights).
"""

import sys

import keras
import numpy as np

import vaekit
from vaekit.models import layers

STRATEGIES = ("layer", "add_loss", "train_step", "multi_output")
SETTINGS = {"seed": 3, "kl_factor": 50.0}  # a large KL weight, so that it matters


def fixed_noise(epsilon):
    """Make every Sampling layer draw ``epsilon``: the one thing backends cannot share is noise."""

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return keras.ops.convert_to_tensor(epsilon)

    layers.keras.random.normal = normal  # this process only


def step(strategy, images, weights):
    vae = vaekit.VariationalAutoencoder(kl_strategy=strategy, **SETTINGS)
    trainable = vae.model.trainable_weights
    for variable, value in zip(trainable, weights, strict=True):
        variable.assign(value)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    before = [keras.ops.convert_to_numpy(w) for w in trainable]
    logs = vae.model.train_on_batch(images, vae.model.targets(images), return_dict=True)
    after = [keras.ops.convert_to_numpy(w) for w in trainable]
    return logs, [b - a for b, a in zip(before, after, strict=True)]


def main(inputs, out, write_inputs=False):
    if write_inputs:
        vae = vaekit.VariationalAutoencoder(**SETTINGS)
        rng = np.random.default_rng(0)
        (x, _), _ = vaekit.datasets.load("mnist", limit=32)
        weights = {}
        for i, w in enumerate(vae.model.trainable_weights):
            value = keras.ops.convert_to_numpy(w)
            if w.path.endswith("bias"):
                # Zero biases on MNIST's zero background put every pre-activation there at exactly
                # 0, leaky_relu's kink, whose derivative is the slope on TensorFlow and PyTorch and
                # 1 on JAX: two valid subgradients. Away from it the backends must agree.
                value = value + rng.normal(0.0, 0.05, value.shape).astype(np.float32)
            weights[f"w{i}"] = value
        np.savez(
            inputs,
            images=np.asarray(x[:32], np.float32),
            epsilon=rng.standard_normal((32, vae.config.z_dim)).astype(np.float32),
            **weights,
        )
    data = np.load(inputs)
    fixed_noise(data["epsilon"])
    weights = [data[f"w{i}"] for i in range(sum(k.startswith("w") for k in data.files))]
    results = {}
    for strategy in STRATEGIES:
        logs, gradients = step(strategy, data["images"], weights)
        for key in ("loss", "bce", "kl", "nelbo"):
            results[f"{strategy}/{key}"] = np.float64(logs[key])
        for i, g in enumerate(gradients):
            results[f"{strategy}/g{i}"] = g
    np.savez(out, backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--write-inputs" in sys.argv[3:])
