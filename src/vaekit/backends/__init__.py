"""The Keras backend vaekit runs on, chosen once before Keras loads, and that backend's own code.

Everything that differs by backend lives in one package here, as Keras keeps its own in
``keras/src/backend/*``: :mod:`.tensorflow`, :mod:`.jax` and :mod:`.torch` each offer every member
of the written contract, :mod:`.base` (the custom ``train_step`` of the ``train_step`` wiring, the
device set-up, the GPUs and thread pools seen, the distribution, the data feeding and the
rewritten gradients), one module per role. :data:`current` is the package of the backend in use;
the models hold only ``keras.ops`` code.

Which backend: ``KERAS_BACKEND`` when set (an empty one counts as unset, as in Keras), else the
``backend`` of Keras's ``keras.json`` where that one is installed (Keras writes the file itself,
naming tensorflow), else the first installed of tensorflow (the fastest on CPUs), jax and torch.
``import vaekit`` raises, in one line, a :class:`~vaekit.errors.BackendUnavailable` naming what to
install where the chosen backend is not installed, fails to import, or none is installed, and a
:class:`~vaekit.errors.ConfigError` naming the valid ones where ``KERAS_BACKEND`` or keras.json
names a backend vaekit cannot run on: one Keras does not know, or Keras's ``numpy`` and
``openvino``, which cannot train; so does a keras.json that Keras itself would refuse (its
``floatx``, ``epsilon`` or ``image_data_format``), or one asking for ``channels_first`` images,
and a ``KERAS_MAX_EPOCHS`` or ``KERAS_MAX_STEPS_PER_EPOCH`` that is not an integer.
The console script prints that line and exits with 2 before any command runs.
``TF_CPP_MIN_LOG_LEVEL`` becomes ``1`` (TensorFlow's C++ INFO lines hidden) unless set.
TensorFlow 2.21 prints a few lines while its libraries load that no log level hides, so that
import runs with standard error muted; ``TF_CPP_MIN_LOG_LEVEL=0`` shows them.

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

from vaekit.errors import BackendUnavailable, ConfigError, VaekitError, one_line, printable

NAMES = ("tensorflow", "jax", "torch")  # in the order vaekit picks an installed one
# Keras's other backends, and why vaekit cannot train on them (their trainers' fit raises).
KERAS_ONLY = {"numpy": "has no fit", "openvino": "runs inference only"}
# What Keras itself checks in keras.json before it loads a backend (keras/src/backend/config.py).
# Keras's environment variables read as integers when it loads (int() of them, else a traceback).
KERAS_INTEGERS = ("KERAS_MAX_EPOCHS", "KERAS_MAX_STEPS_PER_EPOCH")
KERAS_JSON_VALUES = {
    "floatx": ("float16", "float32", "float64"),
    "image_data_format": ("channels_last", "channels_first"),
}
# What to install for each backend, and for a CPU machine (see the README's "Installing").
INSTALL = {
    "tensorflow": "pip install 'vaekit[tensorflow]'",
    "jax": "pip install 'vaekit[jax]' (on an NVIDIA GPU: 'vaekit[jax-cuda]')",
    "torch": "pip install 'vaekit[torch]'",
}


def installed(backend: str) -> bool:
    """Whether ``backend``'s package can be imported here (without importing it)."""
    return importlib.util.find_spec(backend) is not None


def _valid_names() -> str:
    return ", ".join(sorted(NAMES))


def check_name(backend: str, where: str) -> str:
    """``backend`` if vaekit runs on it; else a :class:`ConfigError` naming ``where`` the name came
    from (``KERAS_BACKEND``, a keras.json) and the valid names.

    Example:
        >>> check_name("jax", "KERAS_BACKEND")
        'jax'
        >>> check_name("numpy", "KERAS_BACKEND")
        Traceback (most recent call last):
        ...
        vaekit.errors.ConfigError: KERAS_BACKEND: got 'numpy', a Keras backend that has no fit; ...
    """
    if not isinstance(backend, str):  # from a keras.json
        raise ConfigError(f"{where}: got {backend!r}, expected one of {_valid_names()}")
    if backend in NAMES:
        return backend
    if backend in KERAS_ONLY:
        raise ConfigError(
            f"{where}: got {backend!r}, a Keras backend that {KERAS_ONLY[backend]}; vaekit trains "
            f"on {_valid_names()}"
        )
    near = backend.strip().lower()
    hint = f" (did you mean {near!r}?)" if near in NAMES else ""
    raise ConfigError(
        f"{where}: got {printable(repr(backend))}, expected one of {_valid_names()}{hint}; "
        f"Keras's {' and '.join(KERAS_ONLY)} backends cannot train"
    )


def keras_json(environ) -> str:
    """The path of Keras's keras.json, as Keras finds it: in ``KERAS_HOME``, else ``~/.keras``
    (``/tmp/.keras`` where the home folder cannot be written)."""
    if "KERAS_HOME" in environ:
        return os.path.join(environ["KERAS_HOME"], "keras.json")
    home = os.path.expanduser("~")
    home = home if os.access(home, os.W_OK) else "/tmp"
    return os.path.join(home, ".keras", "keras.json")


def _keras_json_settings(environ) -> dict | None:
    """keras.json's settings; None where it is missing or not JSON (Keras ignores it then)."""
    try:
        with open(os.path.expanduser(keras_json(environ)), encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def _keras_json_backend(environ) -> str | None:
    settings = _keras_json_settings(environ)
    chosen = settings.get("backend") if isinstance(settings, dict) else None
    return chosen if isinstance(chosen, str) else None


def check_keras_json(environ) -> None:
    """Refuse, in one line naming the file, a keras.json that Keras would fail to start with (a
    JSON value other than an object, a ``floatx``, ``epsilon`` or ``image_data_format`` Keras
    refuses), ``channels_first`` images, which vaekit's layers do not take, and (where
    ``KERAS_BACKEND`` does not decide) a ``backend`` vaekit cannot run on."""
    settings = _keras_json_settings(environ)
    if settings is None:
        return
    path = keras_json(environ)
    fix = "(Keras's settings file: correct it, or delete it and Keras writes a new one)"
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object of Keras's settings {fix}")
    for key, valid in KERAS_JSON_VALUES.items():
        if key in settings and settings[key] not in valid:
            raise ConfigError(
                f"{path}: {key}: got {printable(repr(settings[key]))}, expected one of "
                f"{', '.join(valid)} {fix}"
            )
    if "epsilon" in settings and not isinstance(settings["epsilon"], float):
        raise ConfigError(
            f"{path}: epsilon: got {printable(repr(settings['epsilon']))}, expected a number with "
            f"a decimal point, e.g. 1e-07 {fix}"
        )
    if settings.get("image_data_format") == "channels_first":
        raise ConfigError(
            f"{path}: image_data_format: got 'channels_first', but vaekit's models take images "
            "as (height, width, channels); set it to channels_last"
        )
    if not environ.get("KERAS_BACKEND") and "backend" in settings:
        check_name(settings["backend"], f"{path}: backend")


def choose(environ=None, available=installed) -> str:
    """The backend to use: ``KERAS_BACKEND``, keras.json's, or the first installed of :data:`NAMES`.

    Raises:
        BackendUnavailable: the chosen backend is not installed, or none is.
        ConfigError: ``KERAS_BACKEND`` names a backend vaekit cannot run on (see
            :func:`check_name`).

    Example:
        >>> choose({"KERAS_BACKEND": "jax"}, available=lambda name: True)
        'jax'
        >>> choose({"KERAS_HOME": "/nonexistent"}, available=lambda name: name == "torch")
        'torch'
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("KERAS_BACKEND")
    if chosen:
        check_name(chosen, "KERAS_BACKEND")
        if not available(chosen):
            raise BackendUnavailable(
                f"KERAS_BACKEND={chosen}: {chosen} is not installed here; "
                f"{INSTALL[chosen]}, or choose an installed backend"
            )
        return chosen
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


def _check_integer(environ, variable: str) -> None:
    value = environ.get(variable)
    if value is None:
        return
    try:
        int(value)
    except ValueError:
        raise ConfigError(
            f"{variable}: got {printable(repr(value))}, expected an integer (a Keras setting)"
        ) from None


def _start() -> str:
    """Choose the backend and load Keras on it (see the module docstring); returns what chose it."""
    chosen_by = "KERAS_BACKEND"
    if "keras" not in sys.modules:  # Keras already loaded has chosen its backend
        asked = dict(os.environ)
        check_keras_json(asked)  # Keras reads it whatever KERAS_BACKEND says
        for variable in KERAS_INTEGERS:
            _check_integer(asked, variable)
        os.environ["KERAS_BACKEND"] = choose()
        chosen_by = _chosen_by(asked, os.environ["KERAS_BACKEND"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        _import_keras()
    except ImportError as error:  # installed, but broken: a missing library, a wrong build
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        raise BackendUnavailable(
            f"{backend} (chosen by {chosen_by}) is installed but cannot be imported "
            f"({one_line(error)}); reinstall it: {INSTALL.get(backend, 'pip install keras')}, or "
            "choose another backend with KERAS_BACKEND"
        ) from None
    import keras

    check_name(keras.backend.backend(), "the backend Keras was loaded on before vaekit")
    return chosen_by


try:
    _CHOSEN_BY = _start()
except VaekitError as error:
    if not _console_script():
        raise
    # The console script imports vaekit before its own error handling exists: one line, 2.
    print(f"vaekit: error: {error}", file=sys.stderr)
    raise SystemExit(error.exit_code) from None

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
