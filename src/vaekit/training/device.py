"""Device controls of ``train``: device, GPU memory limit, XLA, threads and precision.

Call :func:`configure` before the first tensor operation (building or loading a model):
TensorFlow fixes devices and thread pools when its runtime starts. Settings a started runtime no
longer accepts are reported with a warning and left as they are, so a second run in one Python
process still trains. ``precision: auto`` becomes the precision that is native on the device used
(see :func:`vaekit.hardware.choose_precision`).

Example:
    >>> from vaekit.config import TrainConfig
    >>> settings = configure(TrainConfig(device="cpu", precision="float32"))
    >>> settings["device"], settings["precision"]
    ('cpu', 'float32')
"""

from __future__ import annotations

import warnings

import keras

from vaekit import hardware
from vaekit.config import TrainConfig
from vaekit.errors import ConfigError


# Each backend's module is imported in its own function: only the backend in use is installed.
def _tensorflow(train: TrainConfig) -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if train.device == "gpu" and not gpus:
        raise ConfigError("train.device: got 'gpu', but TensorFlow sees no GPU; use cpu or auto")
    use_gpu = bool(gpus) and train.device != "cpu"
    try:
        if not use_gpu and gpus:
            tf.config.set_visible_devices([], "GPU")
        if use_gpu and train.gpu_memory_limit_mb:
            limit = tf.config.LogicalDeviceConfiguration(memory_limit=train.gpu_memory_limit_mb)
            tf.config.set_logical_device_configuration(gpus[0], [limit])
        elif use_gpu:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
        if train.threads:
            tf.config.threading.set_intra_op_parallelism_threads(train.threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(train.threads, 2))
    except RuntimeError as error:  # the runtime started earlier in this process
        warnings.warn(f"device settings kept as they were: {error}", stacklevel=3)
    return {"device": "gpu" if use_gpu else "cpu"}


def _torch(train: TrainConfig) -> dict:
    import torch

    if train.device == "gpu" and not torch.cuda.is_available():
        raise ConfigError("train.device: got 'gpu', but PyTorch sees no GPU; use cpu or auto")
    if train.threads:
        torch.set_num_threads(train.threads)
    return {"device": "gpu" if torch.cuda.is_available() and train.device != "cpu" else "cpu"}


def _jax(train: TrainConfig) -> dict:
    import jax

    has_gpu = any(d.platform == "gpu" for d in jax.devices())
    if train.device == "gpu" and not has_gpu:
        raise ConfigError("train.device: got 'gpu', but JAX sees no GPU; use cpu or auto")
    return {"device": "gpu" if has_gpu and train.device != "cpu" else "cpu"}


_BACKENDS = {"tensorflow": _tensorflow, "torch": _torch, "jax": _jax}

# jit_compile "auto": XLA measured slower than graph mode for the reference model on our CPUs
# (docs/benchmarks.md), and faster on GPUs.
_AUTO_JIT = {"cpu": False, "gpu": True}


def configure(train: TrainConfig) -> dict:
    """Apply the device settings; returns the device, XLA and precision chosen.

    Returns:
        ``{"device": "cpu"|"gpu", "jit_compile": bool, "precision": str}``, with ``auto``
        values resolved. A ``mixed_bfloat16`` that is not native here is kept, with a warning.
    """
    chosen = _BACKENDS[keras.backend.backend()](train)
    jit = train.jit_compile
    chosen["jit_compile"] = _AUTO_JIT[chosen["device"]] if jit == "auto" else bool(jit)
    found_gpus = hardware.gpus() if chosen["device"] == "gpu" else []
    precision, warning = hardware.choose_precision(
        train.precision, chosen["device"], found_gpus, hardware.CpuInfo.read(), hardware.isa_cap()
    )
    if warning:
        warnings.warn(warning, stacklevel=2)
    chosen["precision"] = precision
    return chosen
