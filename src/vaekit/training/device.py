"""Device controls of ``train``: device, GPU memory limit, XLA, threads and precision.

Call :func:`configure` before the first tensor operation (building or loading a model):
TensorFlow fixes devices and thread pools when its runtime starts. Settings a started runtime no
longer accepts are reported with a warning and left as they are, so a second run in one Python
process still trains. ``precision: auto`` becomes the precision that is native on the device used
(see :func:`vaekit.hardware.choose_precision`).

Example:
    >>> from vaekit.config import TrainConfig
    >>> settings = configure(TrainConfig(device="cpu", precision="float32"))
    >>> settings.device, settings.precision
    ('cpu', 'float32')
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

from vaekit import backends, distribute, hardware
from vaekit.config import Config, TrainConfig


@dataclass(frozen=True)
class DeviceSettings:
    """What :func:`configure` chose, with ``auto`` values resolved.

    Args:
        device: ``"cpu"`` or ``"gpu"``, the device used.
        jit_compile: whether Keras compiles the train step with XLA.
        precision: the Keras dtype policy the model is built under (``train.precision``, with
            ``auto`` resolved; a ``mixed_bfloat16`` that is not native here is kept, with a
            warning).
        placement: where the run trains (:mod:`vaekit.distribute`).
    """

    device: str
    jit_compile: bool
    precision: str
    placement: distribute.Placement

    def resolve(self, config: Config) -> Config:
        """``config`` with ``train.precision`` as chosen here (what ``config.yaml`` records);
        a copy, ``config`` is left as it is."""
        train = dataclasses.replace(config.train, precision=self.precision)
        return dataclasses.replace(config, train=train)


def configure(train: TrainConfig) -> DeviceSettings:
    """Apply the device settings; returns the device, XLA, precision and placement chosen."""
    cluster = distribute.prepare(train)  # before the runtime starts (JAX joins the processes)
    device = backends.current.configure(train)["device"]
    auto = backends.current.AUTO_JIT[device]  # XLA on JAX, eager on PyTorch
    jit = auto if train.jit_compile == "auto" else bool(train.jit_compile)
    found_gpus = hardware.gpus() if device == "gpu" else []
    precision, warning = hardware.choose_precision(
        train.precision, device, found_gpus, hardware.CpuInfo.read(), hardware.isa_cap()
    )
    if warning:
        warnings.warn(warning, stacklevel=2)
    placement = distribute.setup(train, cluster)
    return DeviceSettings(device, jit, precision, placement)
