"""TensorFlow: ``tf.GradientTape`` for the ``train_step`` wiring, ``tf.data`` feeding, ``tf.config``
device set-up, and two rewritten gradients that make TensorFlow's CPU kernels faster and exact.

The members of the backend contract (:mod:`vaekit.backends.base`) come from one module per role:

- :mod:`.trainer`: the ``train_step`` wiring's step;
- :mod:`.devices`: ``tf.config`` device set-up, the GPUs seen, the thread pools;
- :mod:`.distribution_lib`: ``tf.distribute.MirroredStrategy`` over one machine's devices, its
  replicas and their noise;
- :mod:`.feeding`: ``tf.data``;
- :mod:`.gradients`: the rewritten bias and LeakyReLU gradients.

Example:
    >>> NAME, AUTO_JIT["cpu"], DISTRIBUTIONS["mirrored"].supported
    ('tensorflow', False, True)
"""

# ruff: noqa: F401  (the imports are this backend's members of the contract, base.MEMBERS)
from vaekit.backends.base import (
    STEPS_PER_EXECUTION,  # None: any number, the steps run in one tf.function call
    alone,  # one process: the rest of the distribution members do nothing
    barrier,
    peer_lost,
    release_distribution,  # a strategy holds no global state: outside its scope, one device
    set_lost_hint,
    stop_lost,
)
from vaekit.backends.tensorflow.devices import configure, gpus, no_gpu_reason, threads
from vaekit.backends.tensorflow.distribution_lib import (
    DISTRIBUTIONS,
    normal,
    prepare_distribution,
    replicas,
    split_cpu,
)
from vaekit.backends.tensorflow.feeding import make_dataset
from vaekit.backends.tensorflow.gradients import bias_add, leaky_relu
from vaekit.backends.tensorflow.trainer import test_step, train_step

NAME = "tensorflow"
# jit_compile "auto": XLA measured slower than graph mode for the reference model on our CPUs
# (docs/benchmarks.md), and faster on GPUs.
AUTO_JIT = {"cpu": False, "gpu": True}
