"""PyTorch: ``backward()`` for the ``train_step`` wiring, ``torch`` device set-up, Python feeding.

Keras's PyTorch trainer runs eagerly by default (``jit_compile=True`` is ``torch.compile``, which
vaekit leaves to the user: see docs/backends.md), and refuses ``steps_per_execution > 1``. The
members of the backend contract (:mod:`vaekit.backends.base`) come from one module per role:

- :mod:`.trainer`: the ``train_step`` wiring's step;
- :mod:`.devices`: the device used, the GPUs seen, the thread pools;
- :mod:`.distribution_lib`: no distribution (each is refused), one process;
- feeding: the contract's default, a ``PyDataset`` (:class:`vaekit.backends.feeding.EpochBatches`);
  PyTorch sums bfloat16 in float32 already, so no gradient is rewritten.

Example:
    >>> NAME, AUTO_JIT["cpu"], STEPS_PER_EXECUTION
    ('torch', False, 'keras-team/keras#23234')
"""

# ruff: noqa: F401  (the imports are this backend's members of the contract, base.MEMBERS)
from vaekit.backends.base import (
    alone,  # one process: the rest of the distribution members do nothing
    barrier,
    bias_add,  # None: PyTorch's bias gradient of a bfloat16 layer is summed in float32
    leaky_relu,
    make_dataset,
    normal,
    peer_lost,
    prepare_distribution,
    release_distribution,
    replicas,
    set_lost_hint,
    stop_lost,
)
from vaekit.backends.torch.devices import configure, gpus, no_gpu_reason, threads
from vaekit.backends.torch.distribution_lib import DISTRIBUTIONS, split_cpu
from vaekit.backends.torch.trainer import test_step, train_step

NAME = "torch"
# jit_compile "auto": eager on PyTorch (Keras's own default there).
AUTO_JIT = {"cpu": False, "gpu": False}
# Keras up to 3.15 refuses steps_per_execution > 1 on PyTorch ("must be 1 with the PyTorch
# backend"); keras-team/keras#23234 lifts that in a later release.
STEPS_PER_EXECUTION = "keras-team/keras#23234"
