"""Importing any vaekit module, first thing in a new process, registers every serializable class.

A process that only loads a model (``vaekit evaluate``, ``VariationalAutoencoder.load`` in a new
notebook) must find vaekit's layers, losses and models without having built one first.
"""

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import keras
import pytest

import vaekit

ENTRY_POINTS = ["vaekit", "vaekit.models.saving", "vaekit.training.run", "vaekit.cli"]
OTHER_BACKENDS = {
    f"vaekit.backends.{name}" for name in vaekit.backends.NAMES if name != vaekit.backends.name()
}


def serializable_classes() -> set[str]:
    """Every concrete Keras layer, loss and model class defined in vaekit, by registered name."""
    found = set()
    for module_info in pkgutil.walk_packages(vaekit.__path__, "vaekit."):
        if ".".join(module_info.name.split(".")[:3]) in OTHER_BACKENDS:  # another backend's
            continue
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            kinds = (keras.layers.Layer, keras.losses.Loss)  # keras.Model is a Layer
            concrete = not name.startswith(("_", "Base"))
            if cls.__module__ == module.__name__ and issubclass(cls, kinds) and concrete:
                found.add(keras.saving.get_registered_name(cls))
    return found


def test_the_classes_are_found_and_named_in_the_vaekit_package():
    names = serializable_classes()
    assert {"vaekit>Sampling", "vaekit>KLLoss", "vaekit>LayerKLVAE", "vaekit>Conv2D"} <= names
    assert all(name.startswith("vaekit>") for name in names), names  # all registered


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_importing_one_module_registers_them_all(module):
    code = (
        f"import json, keras, {module}; "
        "print(json.dumps(sorted(keras.saving.get_custom_objects())))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert serializable_classes() <= set(json.loads(result.stdout))


def test_import_vaekit_prints_nothing():
    result = subprocess.run(
        [sys.executable, "-c", "import vaekit"], capture_output=True, text=True, env=None
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
