"""vaekit.compat.gdl: the Generative Deep Learning book's VariationalAutoencoder, its loss, its
run folder (also a vaekit one), and its notebooks' workflow, each step in a process of its own."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from support import ok, vaekit

from vaekit.compat import gdl
from vaekit.config import Config
from vaekit.errors import ConfigError, ModelFileError
from vaekit.models.objective import Objective, kl_term, reconstruction_per_image

# The digits notebook's architecture, narrower: its layer counts, kernels and strides.
DIGITS = dict(
    input_dim=(28, 28, 1),
    encoder_conv_filters=[8, 16, 16, 16],
    encoder_conv_kernel_size=[3, 3, 3, 3],
    encoder_conv_strides=[1, 2, 2, 1],
    decoder_conv_t_filters=[16, 16, 8, 1],
    decoder_conv_t_kernel_size=[3, 3, 3, 3],
    decoder_conv_t_strides=[1, 2, 2, 1],
    z_dim=2,
)


def test_the_constructor_keeps_the_books_names_and_models():
    vae = gdl.VariationalAutoencoder(**DIGITS, use_batch_norm=True, use_dropout=True, seed=0)
    assert vae.z_dim == 2 and vae.n_layers_encoder == 4 and vae.name == "variational_autoencoder"
    x = np.zeros((3, 28, 28, 1), "float32")
    assert vae.encoder.predict(x, verbose=0).shape == (3, 2)  # z alone, as the book's encoder
    mu, log_var = vae.encoder_mu_log_var.predict(x, verbose=0)
    assert mu.shape == log_var.shape == (3, 2) and tuple(vae.mu.shape) == (None, 2)
    assert vae.decoder.predict(np.zeros((2, 2)), verbose=0).shape == (2, 28, 28, 1)
    config = vae.vae.config
    assert (config.activation, config.dropout_rate, config.use_batch_norm) == (
        "leaky_relu", 0.25, True,
    )  # fmt: skip


def test_a_bad_argument_is_named_as_the_book_names_it():
    with pytest.raises(ConfigError, match=r"^z_dim: got 0, expected an integer >= 1$"):
        gdl.VariationalAutoencoder(**{**DIGITS, "z_dim": 0})


def test_the_loss_is_the_books_squared_error_and_summed_kl():
    """r_loss_factor x mean((x - x_hat)^2) + sum_d KL_d, as models/VAE.py computes it."""
    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28, 1)).astype("float32")
    logits = rng.normal(size=(4, 28, 28, 1)).astype("float32")
    mu, log_var = rng.normal(size=(4, 2)), rng.normal(-1, 0.3, (4, 2))
    r = 1000.0
    sigma = gdl.sigma_of_r_loss_factor(r, 784)
    objective = Objective("squared_error", "gaussian", sigma, kl_weight=1.0)
    got = keras.ops.convert_to_numpy(reconstruction_per_image(objective, images, logits))
    x_hat = 1 / (1 + np.exp(-logits.astype(float)))
    want = r * np.mean((images - x_hat) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(got, want, rtol=1e-5)  # float32 sums of 784 squares
    kl = float(keras.ops.convert_to_numpy(kl_term(objective, mu.astype("float32"),
                                                  log_var.astype("float32"))))  # fmt: skip
    book = np.mean(-0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=1))
    assert kl == pytest.approx(book, rel=1e-5)


def test_compile_sets_the_books_loss_on_the_same_layers():
    vae = gdl.VariationalAutoencoder(**DIGITS, seed=1)
    weights = [w.path for w in vae.decoder.weights]
    vae.compile(0.0005, 10000)
    assert vae.vae.objective.convention == "squared_error"
    assert vae.vae.config.gaussian_sigma == pytest.approx(math.sqrt(784 / 20000))
    assert [w.path for w in vae.model.decoder.weights] == weights and vae.model is vae.vae.model
    with pytest.raises(ConfigError, match="r_loss_factor"):
        vae.compile(0.0005, 0)


def test_the_squared_error_needs_a_fixed_gaussian():
    with pytest.raises(ConfigError, match="set model.likelihood=gaussian and model.gaussian_sigma"):
        Config.from_dict({"train": {"loss_convention": "squared_error"}})


def test_the_books_weights_file_name_finds_the_keras_3_one(tmp_path):
    (tmp_path / "weights.weights.h5").write_bytes(b"")
    assert gdl.weights_file(tmp_path / "weights.h5") == tmp_path / "weights.weights.h5"
    with pytest.raises(ModelFileError, match="no such weights file"):
        gdl.weights_file(tmp_path / "other.keras")


class Payload:
    """Unpickles by calling a function: what a params.pkl from elsewhere could hold."""

    def __reduce__(self):
        return (print, ("this ran",))


def test_params_that_would_run_code_are_refused(tmp_path, capsys):
    (tmp_path / "params.pkl").write_bytes(pickle.dumps([Payload()]))
    with pytest.raises(ModelFileError, match="params.pkl: unreadable"):
        gdl.load_model(gdl.VariationalAutoencoder, tmp_path)
    assert "this ran" not in capsys.readouterr().out


def test_load_mnist_gives_the_books_arrays_and_is_known_as_mnist():
    (x_train, y_train), (x_test, y_test) = gdl.load_mnist()
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.shape == (60000,)
    assert gdl.is_mnist(x_train) and not gdl.is_mnist(x_train[::-1].copy())


def python(code: str, cwd) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter (as a notebook's kernel would)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_the_digits_notebooks_workflow_in_new_processes(tmp_path):
    """Train as 03_03 does, analyse as 03_04 does, continue as its 'load' mode does, and read the
    run folder with vaekit's commands: each in a process of its own."""
    setup = f"""
        import json, numpy as np
        from vaekit.compat.gdl import VariationalAutoencoder, load_mnist, load_model
        (x_train, y_train), (x_test, y_test) = load_mnist()
        RUN_FOLDER = "run/vae/0002_digits"
        ARGS = {DIGITS!r}
    """
    python(setup + """
        vae = VariationalAutoencoder(**ARGS)
        vae.save(RUN_FOLDER)
        vae.encoder.summary(); vae.decoder.summary()
        vae.compile(0.0005, 1000)
        vae.train(x_train[:512], batch_size=32, epochs=2, run_folder=RUN_FOLDER,
                  print_every_n_batches=8, initial_epoch=0)
        z = np.zeros((2, 2), "float32")
        np.save("decoded.npy", vae.decoder.predict(z, verbose=0))
    """, tmp_path)  # fmt: skip
    run = tmp_path / "run/vae/0002_digits"
    images = {p.name for p in (run / "images").iterdir()}  # 16 batches an epoch, every 8th
    assert images == {f"img_00{epoch}_{batch}.jpg" for epoch in (1, 2) for batch in (0, 8)}
    weights = sorted(p.name for p in (run / "weights").iterdir())
    assert weights[-1] == "weights.weights.h5" and weights[0].startswith("weights-001-")
    assert {"model.txt", "encoder.txt", "decoder.txt"} <= {p.name for p in (run / "viz").iterdir()}
    for name in ("params.pkl", "config.yaml", "metrics.csv", "model.keras", "report.html"):
        assert (run / name).is_file(), name
    python(setup + """
        vae = load_model(VariationalAutoencoder, RUN_FOLDER)
        z_points = vae.encoder.predict(x_test[:10], verbose=0)
        assert z_points.shape == (10, 2)
        again = vae.decoder.predict(np.zeros((2, 2), "float32"), verbose=0)
        np.testing.assert_array_equal(again, np.load("decoded.npy"))  # the trained weights
        znew = np.random.normal(size=(30, 2))
        assert vae.decoder.predict(znew, verbose=0).shape == (30, 28, 28, 1)
    """, tmp_path)  # fmt: skip
    ok(vaekit("evaluate", run, "--samples", 4, "--limit", 32, "--quiet"))
    assert json.loads((run / "evaluation.json").read_text())["loss_convention"] == "squared_error"
    python(setup + """
        vae = VariationalAutoencoder(**ARGS)
        vae.load_weights(RUN_FOLDER + "/weights/weights.h5")
        vae.compile(0.0005, 1000)
        vae.train(x_train[:512], batch_size=32, epochs=3, run_folder=RUN_FOLDER,
                  print_every_n_batches=100, initial_epoch=2, lr_decay=0.5)
    """, tmp_path)  # fmt: skip
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]
    ok(vaekit("train", "--resume", run, "--set", "train.epochs=4", "--quiet"))
    assert Config.load(run / "config.yaml").train.lr_decay == 0.5


@pytest.mark.slow
def test_the_faces_notebook_trains_from_vaekits_folder_source(tmp_path):
    """03_05 with vaekit's folder source in place of ImageDataGenerator: the run folder records
    the image folder, and vaekit report reads it."""
    folder = tmp_path / "data/celeb/img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    from PIL import Image

    for i in range(48):
        Image.fromarray(rng.integers(0, 255, (40, 36, 3), np.uint8)).save(folder / f"{i:06d}.jpg")
    python("""
        from vaekit import datasets
        from vaekit.compat.gdl import VariationalAutoencoder
        INPUT_DIM, BATCH_SIZE = (32, 32, 3), 16
        data_flow = datasets.open_images("data/celeb", INPUT_DIM)
        NUM_IMAGES = len(data_flow.train)
        vae = VariationalAutoencoder(
            input_dim=INPUT_DIM, encoder_conv_filters=[8, 8], encoder_conv_kernel_size=[3, 3],
            encoder_conv_strides=[2, 2], decoder_conv_t_filters=[8, 3],
            decoder_conv_t_kernel_size=[3, 3], decoder_conv_t_strides=[2, 2], z_dim=20,
            use_batch_norm=True, use_dropout=True)
        vae.save("run/vae/0001_faces")
        vae.compile(0.0005, 10000)
        vae.train_with_generator(data_flow, epochs=1, steps_per_epoch=NUM_IMAGES / BATCH_SIZE,
                                 run_folder="run/vae/0001_faces", print_every_n_batches=100)
    """, tmp_path)  # fmt: skip
    run = tmp_path / "run/vae/0001_faces"
    config = Config.load(run / "config.yaml")
    assert config.data.dataset == str((tmp_path / "data/celeb").resolve())
    assert config.train.batch_size == 16
    assert (run / "manifest.json").is_file()
    ok(vaekit("report", run, "--quiet", cwd=tmp_path))
