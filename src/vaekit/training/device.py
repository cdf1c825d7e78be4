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

from vaekit import backends, distribute, hardware
from vaekit.config import TrainConfig


def configure(train: TrainConfig) -> dict:
    """Apply the device settings; returns the device, XLA and precision chosen.

    Returns:
        ``{"device": "cpu"|"gpu", "jit_compile": bool, "precision": str, "placement":
        Placement}``, with ``auto`` values resolved. A ``mixed_bfloat16`` that is not native here
        is kept, with a warning. ``placement`` is where the run trains (:mod:`vaekit.distribute`).
    """
    cluster = distribute.prepare(train)  # before the runtime starts (JAX joins the processes)
    chosen = backends.current.configure(train)
    jit = train.jit_compile
    auto = backends.current.AUTO_JIT[chosen["device"]]  # XLA on JAX, eager on PyTorch
    chosen["jit_compile"] = auto if jit == "auto" else bool(jit)
    found_gpus = hardware.gpus() if chosen["device"] == "gpu" else []
    precision, warning = hardware.choose_precision(
        train.precision, chosen["device"], found_gpus, hardware.CpuInfo.read(), hardware.isa_cap()
    )
    if warning:
        warnings.warn(warning, stacklevel=2)
    chosen["precision"] = precision
    chosen["placement"] = distribute.setup(train, cluster)
    return chosen
