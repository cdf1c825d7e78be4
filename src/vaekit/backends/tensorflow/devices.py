"""TensorFlow's devices and threads: ``tf.config`` set-up, the GPUs seen, the thread pools."""

from __future__ import annotations

import os
import warnings

import tensorflow as tf

from vaekit.errors import ConfigError


def configure(train) -> dict:
    """Apply ``train``'s device settings (before the runtime starts); returns the device used."""
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
        warnings.warn(f"device settings kept as they were: {error}", stacklevel=4)
    return {"device": "gpu" if use_gpu else "cpu"}


def gpus() -> list:
    """The GPUs TensorFlow sees, as ``(name, (major, minor) compute capability)``."""
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append((details.get("device_name", gpu.name), details.get("compute_capability")))
    return found


def no_gpu_reason() -> str:
    """Why TensorFlow sees no GPU (called only when it sees none)."""
    if not tf.test.is_built_with_cuda():
        return "this TensorFlow is built without CUDA (tensorflow-cpu); 'vaekit[tensorflow-cuda]'"
    return "TensorFlow is built with CUDA but finds no GPU (driver, CUDA_VISIBLE_DEVICES)"


def threads() -> dict:
    """TensorFlow's intra-op and inter-op pools, and whether oneDNN is on."""

    def shown(count: int):
        return count or "0 (one per core)"

    return {
        "tensorflow intra-op": shown(tf.config.threading.get_intra_op_parallelism_threads()),
        "tensorflow inter-op": shown(tf.config.threading.get_inter_op_parallelism_threads()),
        "oneDNN (TF_ENABLE_ONEDNN_OPTS)": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "on (default)"),
    }
