"""Picks the Keras backend before Keras loads, and loads TensorFlow without its start-up noise.

:mod:`vaekit` imports this module before anything else. It sets ``KERAS_BACKEND`` to
``tensorflow`` unless the user chose another backend, and ``TF_CPP_MIN_LOG_LEVEL`` to ``1``
(TensorFlow's C++ INFO lines hidden, warnings and errors kept) unless the user set a level. It then
imports Keras, and with it the backend. TensorFlow 2.21 prints a few lines while its libraries load
("oneDNN custom operations are on", "All log messages before absl::InitializeLog()") that no log
level hides, so that import runs with the process's standard error muted; ``TF_CPP_MIN_LOG_LEVEL=0``
shows them. An import error still surfaces as a Python exception.

Example:
    >>> name() in ("tensorflow", "jax", "torch")
    True
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


@contextlib.contextmanager
def _muted_stderr():
    """Point file descriptor 2 at /dev/null (C++ libraries write there, not to sys.stderr)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_keras() -> None:
    # Keras loads TensorFlow on the other backends too, where it is installed (for tf.data).
    quiet = "tensorflow" not in sys.modules and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0"
    with _muted_stderr() if quiet else contextlib.nullcontext():
        import keras  # noqa: F401  (loads the backend)


_import_keras()

import keras  # noqa: E402


def name() -> str:
    """The Keras backend in use: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


# How each backend reports an allocation it could not make (none raises MemoryError itself):
# TensorFlow's ResourceExhaustedError ("OOM when allocating tensor"), PyTorch's OutOfMemoryError
# (CUDA) or a RuntimeError from its CPU allocator ("DefaultCPUAllocator: not enough memory"), and
# JAX's XlaRuntimeError (a RuntimeError) with "RESOURCE_EXHAUSTED".
_OUT_OF_MEMORY_TYPES = ("ResourceExhaustedError", "OutOfMemoryError")
_OUT_OF_MEMORY_WORDS = ("RESOURCE_EXHAUSTED", "not enough memory", "out of memory", "OOM when")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation: Python's ``MemoryError`` or a backend's own.

    >>> is_out_of_memory(MemoryError()), is_out_of_memory(ValueError("out of memory"))
    (True, False)
    """
    if isinstance(error, MemoryError):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:  # mmap, fork
        return True
    if any(cls.__name__ in _OUT_OF_MEMORY_TYPES for cls in type(error).__mro__):
        return True
    return isinstance(error, RuntimeError) and any(w in str(error) for w in _OUT_OF_MEMORY_WORDS)


def native_optimizer(optimizer, variables):
    """``optimizer`` as this backend's own class, with its state (a model's ``variables``).

    A ``.keras`` file written on PyTorch records its optimizer as PyTorch's subclass
    (``keras.src.backend.torch.optimizers.torch_adam.Adam``), which Keras then loads as such on
    another backend, where its first step fails; the other backends record the neutral class.
    Returns ``optimizer`` itself where it is this backend's already.
    """
    module = type(optimizer).__module__
    parts = module.split(".")
    if parts[:3] != ["keras", "src", "backend"] or parts[3] == name():
        return optimizer
    native = keras.optimizers.get(
        {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
    )
    native.build(variables)
    if len(native.variables) != len(optimizer.variables):
        return optimizer  # another layout of state: Keras's own error will say what is wrong
    for mine, theirs in zip(native.variables, optimizer.variables, strict=True):
        mine.assign(keras.ops.convert_to_numpy(theirs))
    return native
