"""Every bad input, through the real command: exit code, the words of the one-line message, and
no run folder left behind. Also the documented automatic fixes, and bad model files."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support import CONFIG

from vaekit import ModelFileError, VariationalAutoencoder
from vaekit.cli import main

RNG = np.random.default_rng(0)


def npz(folder, name="data.npz", **arrays):
    path = folder / name
    np.savez(path, **arrays)
    return str(path)


def images(n, *shape, dtype="float32"):
    return RNG.random((n, *shape)).astype(dtype)


# Each case: (name, --set arguments built from a tmp folder, expected exit code, expected words).
CASES = [
    ("unknown key", lambda d: ["model.zdim=3"], 2, ["model.zdim", "did you mean 'z_dim'"]),
    ("unknown section", lambda d: ["modle.z_dim=3"], 2, ["modle", "did you mean 'model'"]),
    ("wrong type", lambda d: ["train.epochs=three"], 2, ["train.epochs", "'three'", "integer"]),
    ("zero size", lambda d: ["model.z_dim=0"], 2, ["model.z_dim", "got 0", ">= 1"]),
    ("negative size", lambda d: ["train.batch_size=-4"], 2, ["train.batch_size", "-4"]),
    (
        "list lengths",
        lambda d: ["model.encoder_conv_strides=[1,2]"],
        2,
        ["encoder_conv_strides has 2", "encoder_conv_filters has 3"],
    ),
    ("unknown activation", lambda d: ["model.activation=gelu"], 2, ["leaky_relu, relu, selu"]),
    ("unknown strategy", lambda d: ["model.kl_strategy=5"], 2, ["model.kl_strategy", "layer"]),
    ("unknown dataset", lambda d: ["data.dataset=cifar"], 2, ["cifar", "mnist"]),
    (
        "shapes do not round-trip",
        lambda d: ["model.decoder_conv_t_strides=[2,2,2]"],
        2,
        ["(56, 56, 1)", "(28, 28, 1)"],
    ),
    (
        "batch larger than data",
        lambda d: ["data.limit=64"],
        2,
        ["train.batch_size: got 128", "64 training images"],
    ),
    (
        "steps per execution that overrun an epoch",
        lambda d: ["data.limit=300", "train.batch_size=64", "train.steps_per_execution=2"],
        2,
        ["train.steps_per_execution: got 2", "the 5 steps of an epoch", "use one of 1, 5"],
    ),
    ("non-finite number", lambda d: ["model.kl_factor=.nan"], 2, ["model.kl_factor", "finite"]),
    ("infinite learning rate", lambda d: ["train.learning_rate=.inf"], 2, ["learning_rate"]),
    ("missing data file", lambda d: [f"data.dataset={d}/none.npz"], 2, ["none.npz"]),
    ("truncated npz", lambda d: [f"data.dataset={truncated_npz(d)}"], 2, ["cut.npz"]),
    ("not an npz", lambda d: [f"data.dataset={text_file(d)}"], 2, ["notes.npz"]),
    (
        "missing key",
        lambda d: [f"data.dataset={npz(d, x_train=images(8, 28, 28))}"],
        2,
        ["x_test", "x_train"],
    ),
    (
        "NaN pixels",
        lambda d: [f"data.dataset={npz(d, x_train=nan_images(), x_test=images(8, 28, 28))}"],
        2,
        ["NaN or inf", "3 ", "first at index"],
    ),
    (
        "values outside [0, 1]",
        lambda d: [
            f"data.dataset={npz(d, x_train=images(8, 28, 28) * 3, x_test=images(8, 28, 28))}"
        ],
        2,
        ["[0, 1]"],
    ),
    (
        "image size does not match the model",
        lambda d: [f"data.dataset={npz(d, x_train=images(256, 32, 32), x_test=images(8, 32, 32))}"],
        2,
        ["(32, 32, 1)", "model.input_dim is [28, 28, 1]"],
    ),
    (
        "empty data set",
        lambda d: [f"data.dataset={npz(d, x_train=images(0, 28, 28), x_test=images(8, 28, 28))}"],
        2,
        ["empty"],
    ),
    (
        "labels of the wrong length",
        lambda d: [f"data.dataset={bad_labels(d)}"],
        2,
        ["y_train", "5"],
    ),
]


def bad_labels(folder):
    x = images(8, 28, 28)
    return npz(folder, x_train=x, y_train=np.zeros(5, int), x_test=x)


def nan_images():
    x = images(16, 28, 28)
    x[2, 3, 4] = x[5, 0, 0] = np.nan
    x[9, 1, 1] = np.inf
    return x


def truncated_npz(folder):
    full = Path(npz(folder, x_train=images(64, 28, 28), x_test=images(8, 28, 28)))
    cut = folder / "cut.npz"
    cut.write_bytes(full.read_bytes()[:5000])
    return cut


def text_file(folder):
    path = folder / "notes.npz"
    path.write_text("these are not arrays")
    return path


@pytest.mark.parametrize(("name", "settings", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(tmp_path, capsys, name, settings, code, words):
    out = tmp_path / "run"
    arguments = ["train", "--config", CONFIG, "--out", str(out), "--quiet"]
    for setting in settings(tmp_path):
        arguments += ["--set", setting]
    assert main(arguments) == code
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("vaekit: error: "), error
    for word in words:
        assert word in error, (word, error)
    assert not out.exists()


@pytest.mark.parametrize("content", ["model: [1, 2", "- just\n- a list\n", "\xff\xfe binary"])
def test_unreadable_config_files(tmp_path, capsys, content):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content.encode("latin-1"))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert "bad.yaml" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_integer_images_without_channel_axis_are_fixed_with_a_notice(tmp_path, capsys):
    x_train = RNG.integers(0, 256, (256, 28, 28), dtype=np.uint8)
    x_test = RNG.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    path = npz(tmp_path, x_train=x_train, x_test=x_test)
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                CONFIG,
                "--out",
                str(out),
                "--quiet",
                "--set",
                "train.epochs=1",
                "--set",
                f"data.dataset={path}",
            ]
        )
        == 0
    )
    assert "scaled" in capsys.readouterr().err
    assert (out / "model.keras").exists()


def rewrite_header(source, target, change):
    """Copy a .keras archive, changing its config.json with ``change``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                header = json.loads(data)
                change(header)
                data = json.dumps(header)
            new.writestr(item, data)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    VariationalAutoencoder(seed=0).save(path)
    return path


def test_saved_models_record_versions_and_config(saved_model):
    with zipfile.ZipFile(saved_model) as archive:
        config = json.loads(archive.read("config.json"))["config"]
    assert set(config["versions"]) == {"vaekit", "keras", "backend"}
    assert config["model_config"]["encoder_conv_filters"] == [32, 64, 128]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda h: h["config"]["versions"].update(vaekit="99.0.0"), "newer than this vaekit"),
        (lambda h: h.update(class_name="Sequential"), "not a vaekit model"),
    ],
)
def test_newer_or_foreign_model_files_are_clear_errors(saved_model, tmp_path, change, words):
    target = tmp_path / "changed.keras"
    rewrite_header(saved_model, target, change)
    with pytest.raises(ModelFileError, match=words):
        VariationalAutoencoder.load(target)


def test_truncated_model_file(saved_model, tmp_path):
    target = tmp_path / "cut.keras"
    target.write_bytes(saved_model.read_bytes()[: saved_model.stat().st_size // 3])
    with pytest.raises(ModelFileError, match="cut.keras"):
        VariationalAutoencoder.load(target)


def test_evaluate_on_a_run_with_a_damaged_model_is_a_clear_error(saved_model, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("{}")
    (run / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    assert main(["evaluate", str(run)]) == 2
    assert "model.keras" in capsys.readouterr().err
