"""A model saved by one Python process is loaded and used by another, with the same results.

One process builds, trains, saves (``VariationalAutoencoder.save``) and then uses each model:
``encode``, ``decode`` and one more ``fit`` epoch. A second, fresh process loads the files
(``VariationalAutoencoder.load``) and does the same. Both run the same float operations on the same
weights, optimizer state, noise-generator state and data order, so their results must be equal
bit for bit; a difference means something was not saved or not restored.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from vaekit import hardware

BF16_UNAVAILABLE = hardware.bfloat16_unavailable(hardware.CpuInfo.read(), hardware.isa_cap())
MODELS = {  # file name: (kl_strategy, precision)
    "layer": ("layer", "float32"),
    "add_loss": ("add_loss", "float32"),
    "train_step": ("train_step", "float32"),
    "multi_output": ("multi_output", "float32"),
    "layer_bf16": ("layer", "mixed_bfloat16"),
}
if BF16_UNAVAILABLE:  # see vaekit.hardware.bfloat16_unavailable
    del MODELS["layer_bf16"]

SCRIPT = """
import json
import sys
from pathlib import Path

import keras
import numpy as np

from vaekit import VariationalAutoencoder, datasets

role, folder, models = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
(x, _), _ = datasets.load("mnist", limit=256)
z = np.random.default_rng(7).normal(size=(16, 2)).astype("float32")
results = {}
for name, (strategy, precision) in models.items():
    path = folder / f"{name}.keras"
    if role == "save":
        keras.config.set_dtype_policy(precision)
        # A small model: what is saved and restored is the same for any size.
        vae = VariationalAutoencoder(kl_strategy=strategy, seed=1, encoder_conv_filters=(8, 8, 8),
                                     decoder_conv_t_filters=(8, 8, 1))
        keras.config.set_dtype_policy("float32")
        vae.compile(learning_rate=1e-3)
        vae.fit(x, batch_size=64, epochs=1, seed=0, verbose=0)
        vae.save(path)
    else:
        vae = VariationalAutoencoder.load(path)
    results[f"{name}/mu"] = vae.encode(x[:32])
    results[f"{name}/images"] = vae.decode(z)
    history = vae.fit(x, batch_size=64, epochs=2, initial_epoch=1, seed=0, verbose=0)
    results[f"{name}/losses"] = np.array([history.history[k][-1] for k in ("loss", "bce", "kl")])
    for i, weight in enumerate(vae.model.get_weights()):
        results[f"{name}/weight_{i}"] = weight
np.savez(folder / f"{role}.npz", **results)
"""


def run_role(role, folder):
    script = folder / "roles.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), role, str(folder), json.dumps(MODELS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return np.load(folder / f"{role}.npz")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_processes")
    return run_role("save", folder), run_role("load", folder)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.slow
def test_the_loading_process_computes_what_the_saving_process_computed(both, name):
    saved, loaded = both
    keys = [key for key in saved.files if key.startswith(f"{name}/")]
    assert {"mu", "images", "losses", "weight_0"} <= {key.split("/")[1] for key in keys}
    assert keys == [key for key in loaded.files if key.startswith(f"{name}/")]
    for key in keys:
        np.testing.assert_array_equal(loaded[key], saved[key], err_msg=key)
