"""JAX's devices and threads: the device a run uses, the GPUs seen, XLA's flags."""

from __future__ import annotations

import os

import jax

from vaekit.errors import ConfigError


def configure(train) -> dict:
    """Check ``train``'s device against what JAX sees; returns the device used."""
    has_gpu = any(d.platform == "gpu" for d in jax.devices())
    if train.device == "gpu" and not has_gpu:
        raise ConfigError(f"train.device: got 'gpu', but {no_gpu_reason()}; use cpu or auto")
    if train.device == "cpu" and has_gpu:
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    return {"device": "gpu" if has_gpu and train.device != "cpu" else "cpu"}


def gpus() -> list:
    """The GPUs JAX sees, as ``(kind, (major, minor) compute capability)``."""
    found = []
    for device in jax.devices():
        if device.platform == "gpu":
            capability = getattr(device, "compute_capability", None)
            major_minor = tuple(int(p) for p in str(capability).split(".")) if capability else None
            found.append((device.device_kind, major_minor))
    return found


def no_gpu_reason() -> str:
    """Why JAX sees no GPU: the build installed."""
    return (
        f"JAX {jax.__version__} runs on {jax.default_backend()} only "
        "(a GPU needs jax[cuda12] or jax[cuda13]: 'vaekit[jax-cuda]')"
    )


def threads() -> dict:
    """XLA's flags (JAX has no thread settings of its own)."""
    return {"XLA_FLAGS": os.environ.get("XLA_FLAGS", "(none)")}
