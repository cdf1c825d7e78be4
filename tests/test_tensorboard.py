"""TensorBoard logs: Keras's scalars every epoch and the image grids, read back from the files."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from support import VAEKIT

from vaekit.training import tensorboard

pytestmark = pytest.mark.skipif(
    not tensorboard.available(), reason="needs the tensorboard package: pip install tensorboard"
)
SETTINGS = [
    "data.limit=256",
    "train.epochs=3",
    "train.batch_size=64",
    "model.encoder_conv_filters=[4,8,8]",
    "model.decoder_conv_t_filters=[8,4,1]",
    "train.tensorboard=true",
    "train.tensorboard_images_every=2",
]


def events(folder: Path) -> dict:
    """{tag: [steps]} of every summary in the event files under ``folder``."""
    found = {}
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault((path.parent.name, value.tag), []).append(event.step)
    return found


@pytest.mark.slow
def test_a_run_logs_every_epoch_and_its_image_grids_to_tensorboard(tmp_path):
    run = tmp_path / "run"
    sets = [item for setting in SETTINGS for item in ("--set", setting)]
    command = [VAEKIT, "train", "--config", "configs/mnist_seed.yaml", "--out", str(run), "--quiet"]
    trained = subprocess.run(command + sets, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr
    logged = events(run / "tensorboard")
    for tag in ("epoch_loss", "epoch_bce", "epoch_kl", "epoch_nelbo"):
        assert sorted(logged[("train", tag)]) == [0, 1, 2], tag
        assert sorted(logged[("validation", tag)]) == [0, 1, 2], tag
    # Every 2 epochs, and after the last (3rd) one.
    assert sorted(logged[("images", "reconstructions")]) == [2, 3]
    assert sorted(logged[("images", "samples")]) == [2, 3]


def test_grid_tiles_images_row_by_row():
    images = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    tiled = tensorboard.grid(images, 2)
    assert tiled[:, :, 0].tolist() == [[0, 1], [2, 3], [4, 0]]


def test_without_the_package_the_run_is_refused_before_its_folder_exists(tmp_path, monkeypatch):
    from vaekit.config import Config
    from vaekit.errors import ConfigError
    from vaekit.training import run

    monkeypatch.setattr(tensorboard, "available", lambda: False)
    config = Config.from_dict({"data": {"limit": 64}, "train": {"tensorboard": True}})
    with pytest.raises(ConfigError, match=r"train\.tensorboard: .*vaekit\[tensorboard\]"):
        run.train(config, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
