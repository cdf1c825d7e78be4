"""JAX: a stateless ``train_step`` for the ``train_step`` wiring, XLA by default, Python feeding.

Keras's JAX trainer is stateless: a step is ``(state, data) -> (logs, state)``, compiled by XLA
(``jax.jit``). The members of the backend contract (:mod:`vaekit.backends.base`) come from one
module per role:

- :mod:`.trainer`: the ``train_step`` wiring's step, after Keras's own;
- :mod:`.devices`: the device used, the GPUs seen, XLA's flags;
- :mod:`.distribution_lib`: ``keras.distribution.DataParallel`` over every device of every
  process, the processes joined and watched;
- feeding: the contract's default, a ``PyDataset`` (:class:`vaekit.backends.feeding.EpochBatches`);
  JAX sums bfloat16 in float32 already, so no gradient is rewritten.

Example:
    >>> NAME, AUTO_JIT["cpu"], DISTRIBUTIONS["data_parallel"].supported
    ('jax', True, True)
"""

# ruff: noqa: F401  (the imports are this backend's members of the contract, base.MEMBERS)
from vaekit.backends.base import (
    STEPS_PER_EXECUTION,  # None: Keras loops over single compiled steps
    bias_add,  # None: XLA sums a bfloat16 bias gradient in float32
    leaky_relu,
    make_dataset,
    normal,
    replicas,  # 1: one program over all devices, Keras's losses need no division
)
from vaekit.backends.jax.devices import configure, gpus, no_gpu_reason, threads
from vaekit.backends.jax.distribution_lib import (
    DISTRIBUTIONS,
    alone,
    barrier,
    peer_lost,
    prepare_distribution,
    release_distribution,
    set_lost_hint,
    split_cpu,
    stop_lost,
)
from vaekit.backends.jax.trainer import test_step, train_step

NAME = "jax"
# jit_compile "auto": XLA on every device (eager JAX runs op by op, many times slower).
AUTO_JIT = {"cpu": True, "gpu": True}
