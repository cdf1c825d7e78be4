"""The Keras backend vaekit runs on, chosen once before Keras loads, and that backend's own code.

Everything that differs by backend lives in one module here, as Keras keeps its own in
``keras/src/backend/*``: :mod:`.tensorflow`, :mod:`.jax` and :mod:`.torch` each give the custom
``train_step`` of the ``train_step`` wiring (its gradient code), the device set-up, the GPUs and
thread pools seen, the data feeding and the rewritten gradients. :data:`current` is the module of
the backend in use; the models hold only ``keras.ops`` code.

Which backend: ``KERAS_BACKEND`` when set, else the ``backend`` of Keras's ``keras.json`` where
that one is installed (Keras writes the file itself, naming tensorflow), else the first installed
of tensorflow (the fastest on CPUs), jax and torch. A chosen backend that is
not installed, or none at all, is a :class:`~vaekit.errors.BackendUnavailable` naming what to
install, raised by ``import vaekit``. ``TF_CPP_MIN_LOG_LEVEL`` becomes ``1`` (TensorFlow's C++
INFO lines hidden) unless set. TensorFlow 2.21 prints a few lines while its libraries load that no
log level hides, so that import runs with standard error muted; ``TF_CPP_MIN_LOG_LEVEL=0`` shows
them.

Example:
    >>> name() in NAMES and current.NAME == name()
    True
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import json
import os
import sys

from vaekit.errors import BackendUnavailable, ConfigError

NAMES = ("tensorflow", "jax", "torch")  # in the order vaekit picks an installed one
# What to install for each backend, and for a CPU machine (see the README's "Installing").
INSTALL = {
    "tensorflow": "pip install 'vaekit[tensorflow]'",
    "jax": "pip install 'vaekit[jax]' (on an NVIDIA GPU: 'vaekit[jax-cuda]')",
    "torch": "pip install 'vaekit[torch]'",
}


def installed(backend: str) -> bool:
    """Whether ``backend``'s package can be imported here (without importing it)."""
    return importlib.util.find_spec(backend) is not None


def _keras_json_backend(environ) -> str | None:
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as file:
            chosen = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return chosen if isinstance(chosen, str) else None


def choose(environ=None, available=installed) -> str:
    """The backend to use: ``KERAS_BACKEND``, keras.json's, or the first installed of :data:`NAMES`.

    Raises:
        BackendUnavailable: the chosen backend is not installed, or none is.

    Example:
        >>> choose({"KERAS_BACKEND": "jax"}, available=lambda name: True)
        'jax'
        >>> choose({"KERAS_HOME": "/nonexistent"}, available=lambda name: name == "torch")
        'torch'
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("KERAS_BACKEND")
    if chosen:
        if chosen in NAMES and not available(chosen):
            raise BackendUnavailable(
                f"KERAS_BACKEND={chosen}: {chosen} is not installed here; "
                f"{INSTALL[chosen]}, or choose an installed backend"
            )
        return chosen  # Keras itself names a backend it does not know
    # Keras writes keras.json itself on first import, naming "tensorflow" whatever is installed:
    # its choice counts where that backend is installed.
    preferred = _keras_json_backend(environ)
    if preferred in NAMES and available(preferred):
        return preferred
    for backend in NAMES:
        if available(backend):
            return backend
    raise BackendUnavailable(
        "no Keras backend is installed: pip install 'vaekit[tensorflow]' on a CPU machine, "
        "'vaekit[jax-cuda]' or 'vaekit[torch]' on a GPU machine (the README's Installing)"
    )


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


def _quiet_tensorflow():
    """Mute standard error while something may load TensorFlow for the first time."""
    quiet = "tensorflow" not in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0"
    return _muted_stderr() if quiet else contextlib.nullcontext()


def _import_keras() -> None:
    # Keras loads TensorFlow on the other backends too, where it is installed (for tf.data).
    with _quiet_tensorflow():
        import keras  # noqa: F401  (loads the backend)


def _console_script() -> bool:
    return os.path.basename(sys.argv[0] if sys.argv else "") == "vaekit"


def _chosen_by(environ, backend: str) -> str:
    if environ.get("KERAS_BACKEND"):
        return "KERAS_BACKEND"
    if _keras_json_backend(environ) == backend:
        return "keras.json"
    return "the first installed of tensorflow, jax, torch"


_CHOSEN_BY = "KERAS_BACKEND"
if "keras" not in sys.modules:  # Keras already loaded has chosen its backend
    _asked = dict(os.environ)
    try:
        os.environ["KERAS_BACKEND"] = choose()
    except BackendUnavailable as error:
        if not _console_script():
            raise
        # The console script imports vaekit before its own error handling exists: one line, 2.
        print(f"vaekit: error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    _CHOSEN_BY = _chosen_by(_asked, os.environ["KERAS_BACKEND"])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
_import_keras()

import keras  # noqa: E402


def chosen_by() -> str:
    """What chose the backend: ``KERAS_BACKEND``, keras.json, or the first installed."""
    return _CHOSEN_BY


def name() -> str:
    """The Keras backend in use: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


current = importlib.import_module(f"vaekit.backends.{name()}")


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed``, which also seeds TensorFlow wherever it is installed
    (loading it, on any backend): that first load without its start-up lines."""
    with _quiet_tensorflow():
        keras.utils.set_random_seed(seed)


def check_steps_per_call(steps: int) -> None:
    """Raise a :class:`ConfigError` if this backend's Keras cannot run ``steps`` steps per call.

    Example:
        >>> check_steps_per_call(1)
    """
    upstream = current.STEPS_PER_EXECUTION
    if steps > 1 and upstream:
        raise ConfigError(
            f"train.steps_per_execution: got {steps}, but Keras {keras.__version__} runs one step "
            f"per call on the {name()} backend ({upstream}); use 1, or KERAS_BACKEND=jax or "
            "tensorflow"
        )


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
