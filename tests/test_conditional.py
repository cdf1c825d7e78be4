"""Conditional VAEs: the label enters encoder and decoder, the four wirings train alike, the labels
are checked, and a conditional run trains, generates a chosen class, evaluates and reports through
the console script.

Backend-neutral: ``make test-backends`` runs this file on JAX and PyTorch too.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import STRATEGIES
from support import ok, one_line, train_tiny, vaekit, write_config
from test_strategies import assert_same_logs, one_sgd_step

from vaekit import VariationalAutoencoder
from vaekit.config import Config, ModelConfig
from vaekit.errors import ConfigError, DataError
from vaekit.models import conditions

CLASSES = {"conditional": True, "condition_levels": [10]}
FACTORS = {"conditional": True, "condition": "factors", "condition_levels": [3, 6]}


def test_the_four_wirings_train_a_conditional_model_alike(mnist_small):
    images, labels = np.array(mnist_small[0][:32]), np.array(mnist_small[1][:32])
    keras.utils.set_random_seed(0)
    reference = VariationalAutoencoder(seed=3, kl_factor=50.0, **CLASSES)
    results = {s: one_sgd_step(s, images, reference, labels=labels, **CLASSES) for s in STRATEGIES}
    _, expected_logs, expected_gradients = results["layer"]
    assert expected_logs["kl"] > 1e-2
    scale = max(np.abs(g).max() for g in expected_gradients)
    for strategy in STRATEGIES:
        _, logs, gradients = results[strategy]
        assert_same_logs(logs, expected_logs, ("loss", "bce", "kl", "nelbo"))
        for got, want in zip(gradients, expected_gradients, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * scale, err_msg=strategy)


def test_the_label_enters_encoder_and_decoder(mnist_small):
    images, labels = np.array(mnist_small[0][:8]), np.array(mnist_small[1][:8])
    vae = VariationalAutoencoder(seed=1, kl_strategy="train_step", **CLASSES)
    z = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    threes, sevens = vae.decode(z, labels=3), vae.decode(z, labels=7)
    assert threes.shape == (8, 28, 28, 1) and np.abs(threes - sevens).max() > 1e-4
    assert np.abs(vae.encode(images, labels=labels) - vae.encode(images, labels=9)).max() > 1e-5
    # The same label as an integer, a class per image and one-hot rows: the same images.
    one_hot = np.eye(10, dtype="float32")[[3] * 8]
    np.testing.assert_array_equal(vae.decode(z, labels=[3] * 8), threes)
    np.testing.assert_array_equal(vae.decode(z, labels=one_hot), threes)
    assert len(vae.encoder.inputs) == 2 and len(vae.decoder.inputs) == 2


def test_a_conditional_model_saves_and_loads_with_its_labels(tmp_path, mnist_small):
    vae = VariationalAutoencoder(seed=2, kl_strategy="multi_output", **FACTORS)
    labels = np.array([[0, 5], [2, 1]])
    z = np.zeros((2, 2), "float32")
    vae.save(tmp_path / "model.keras")
    loaded = VariationalAutoencoder.load(tmp_path / "model.keras")
    assert loaded.config.condition == "factors" and loaded.config.condition_levels == [3, 6]
    np.testing.assert_allclose(loaded.decode(z, labels=labels), vae.decode(z, labels=labels))


@pytest.mark.parametrize(
    "labels, words",
    [
        (None, "a conditional model needs labels"),
        ([1, 2, 0], "got labels of shape (3,) for 3 images"),
        ([[0, 6]] * 3, "got 6 in column 1, but the model knows 6 levels of factor 1"),
        ([[0.5, 1]] * 3, "expected integer labels"),
    ],
)
def test_labels_that_do_not_fit_are_one_line(labels, words):
    vae = VariationalAutoencoder(seed=2, **FACTORS)
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")) as raised:
        vae.decode(np.zeros((3, 2)), labels=labels)
    assert "\n" not in str(raised.value)


def test_an_unconditional_model_refuses_labels():
    with pytest.raises(DataError, match="not conditional"):
        VariationalAutoencoder(seed=2).decode(np.zeros((1, 2)), labels=3)


def test_check_labels_takes_one_label_for_all_and_one_hot_classes():
    config = ModelConfig(**CLASSES)
    assert conditions.check_labels(np.eye(10)[[4, 2]], config, 2).tolist() == [[4], [2]]
    factors = ModelConfig(**FACTORS)
    assert conditions.check_labels([2, 5], factors, 3).tolist() == [[2, 5]] * 3


def test_labels_come_from_the_data_as_each_condition_asks():
    from vaekit.datasets import shapes

    train, test = shapes.load()
    config = Config.from_dict({"model": {"conditional": True, "condition": "factors"}})
    assert conditions.levels_from_data(train, test, config.model, "shapes") == [3, 6, 10, 16, 16]
    config.model.condition = "class"  # the shape of each image
    assert conditions.levels_from_data(train, test, config.model, "shapes") == [3]
    rows = conditions.labels_of(test, config.model)
    assert rows.shape == (len(test), 1) and set(np.unique(rows)) == {0, 1, 2}


def test_generate_labels_parse_names_and_numbers():
    config = ModelConfig(conditional=True, condition="factors", condition_levels=[3, 6, 10])
    names = ("shape", "scale", "rotation")
    assert conditions.parse_label("shape=heart,rotation=9", config, names, ["a", "b", "heart"]) == {
        0: 2,
        2: 9,
    }
    with pytest.raises(DataError, match="no factor 'colour'; factors: shape, scale, rotation"):
        conditions.parse_label("colour=1", config, names)
    classes = ModelConfig(**CLASSES)
    assert conditions.parse_label("7", classes) == {0: 7}
    with pytest.raises(DataError, match="class '10' is not one of 0 to 9"):
        conditions.parse_label("10", classes)


def test_the_config_checks_the_condition_levels():
    with pytest.raises(ConfigError, match="one number, the classes"):
        Config.from_dict({"model": {"conditional": True, "condition_levels": [3, 4]}})
    with pytest.raises(ConfigError, match="integers >= 2"):
        Config.from_dict({"model": {"condition_levels": [1]}})


@pytest.mark.slow
def test_a_conditional_run_trains_generates_a_class_and_evaluates(tmp_path):
    """Train, then each command in a process of its own, on the files the first one wrote."""
    run = train_tiny(tmp_path / "run", {"model": {"conditional": True}})
    config = Config.load(run / "config.yaml")
    assert config.model.conditional and config.model.condition_levels == [10]
    assert (run / "plots" / "class_samples.png").is_file()
    ok(vaekit("generate", run, "-n", 9, "--label", 3, "--out", tmp_path / "threes.png"))
    assert (tmp_path / "threes.png").stat().st_size > 0
    wrong = vaekit("generate", run, "-n", 9, "--label", "cat", "--out", tmp_path / "x.png")
    assert wrong.returncode == 2 and "class 'cat' is not one of 0 to 9" in one_line(wrong)
    ok(vaekit("evaluate", run, "--samples", 4, "--limit", 32, "--quiet"))
    result = json.loads((run / "evaluation.json").read_text())
    assert result["conditional"] == "class" and result["nats_per_image"]["iwae"]["mean"] > 0
    page = (run / "report.html").read_text()
    data = json.loads(page.split('id="explorer-data">')[1].split("</script>")[0])
    assert len(data["gridSheets"]) == 10 and data["gridNames"] == [str(i) for i in range(10)]
    assert 'id="grid-class"' in page


@pytest.mark.slow
def test_an_unconditional_run_refuses_a_label(tiny_run, tmp_path):
    result = vaekit("generate", tiny_run, "-n", 4, "--label", 3, "--out", tmp_path / "x.png")
    assert result.returncode == 2 and "not conditional" in one_line(result)
    assert not (tmp_path / "x.png").exists()


def test_a_conditional_run_on_images_without_labels_is_one_line(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((28, 28), i * 30, np.uint8)).save(folder / f"{i}.png")
    config = write_config(
        tmp_path,
        {"model": {"conditional": True}, "data": {"dataset": str(folder), "limit": None},
         "train": {"batch_size": 4}},
    )  # fmt: skip
    result = vaekit("train", "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 2
    assert "has no labels" in one_line(result) and "class folders" in one_line(result)
    assert not (tmp_path / "run").exists()
