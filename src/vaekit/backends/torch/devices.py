"""PyTorch's devices and threads: the device a run uses, the GPUs seen, its thread pools."""

from __future__ import annotations

import torch

from vaekit.errors import ConfigError


def configure(train) -> dict:
    """Apply ``train``'s device settings; returns the device used."""
    if train.device == "gpu" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: got 'gpu', but {no_gpu_reason()}; use cpu or auto")
    if train.threads:
        torch.set_num_threads(train.threads)
    return {"device": "gpu" if torch.cuda.is_available() and train.device != "cpu" else "cpu"}


def gpus() -> list:
    """The GPUs PyTorch sees, as ``(name, (major, minor) compute capability)``."""
    return [
        (torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
        for i in range(torch.cuda.device_count())
    ]


def no_gpu_reason() -> str:
    """Why PyTorch sees no GPU: a CPU build, or no device found."""
    if torch.version.cuda is None:
        return f"PyTorch {torch.__version__} is a CPU build (no CUDA)"
    return (
        f"PyTorch is built with CUDA {torch.version.cuda} but finds no GPU "
        "(driver, CUDA_VISIBLE_DEVICES)"
    )


def threads() -> dict:
    """PyTorch's intra-op and inter-op thread counts."""
    return {
        "torch intra-op": torch.get_num_threads(),
        "torch inter-op": torch.get_num_interop_threads(),
    }
