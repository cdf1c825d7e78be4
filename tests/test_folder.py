"""Folders of images: layouts, labels, decoding, bad files, manifests, and training on them.

Every folder here is made by the test itself: PNG and JPEG files, grey and RGB, of sizes other than
the model's, in the layouts users bring.
"""

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import VAEKIT

from vaekit import datasets
from vaekit.cli import main
from vaekit.datasets import FileImages, decode_image, folder
from vaekit.datasets.pipeline import iterate, make_dataset
from vaekit.errors import DataError
from vaekit.runs.checkpoints import checkpoint_position, list_checkpoints
from vaekit.runs.metrics import read_metrics

COLORS = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 220)}


def picture(path: Path, color, size=(24, 20), mode="RGB", seed=0):
    """A ``size`` (W, H) image: ``color`` with a brighter square at a seeded place."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((size[1], size[0], 3), np.uint8) + np.array(color, np.uint8) // 3
    y, x = rng.integers(0, size[1] - 6), rng.integers(0, size[0] - 6)
    pixels[y : y + 6, x : x + 6] = color
    image = Image.fromarray(pixels).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=95) if path.suffix == ".jpg" else image.save(path)
    return path


def class_folder(root: Path, per_class=8, split="") -> Path:
    """``root/[split/]<color>/NNN.png|jpg``: alternating PNG and JPEG, grey and RGB files."""
    for c, (name, color) in enumerate(COLORS.items()):
        for i in range(per_class):
            suffix = ".png" if i % 2 else ".jpg"
            mode = "L" if i % 4 == 3 else "RGB"
            picture(root / split / name / f"{i:03d}{suffix}", color, mode=mode, seed=c * 100 + i)
    return root


def config_file(tmp_path, dataset, shape=(16, 16, 3), **data):
    lines = [
        "model:",
        f"  input_dim: [{shape[0]}, {shape[1]}, {shape[2]}]",
        "  encoder_conv_filters: [8, 16]",
        "  encoder_conv_kernel_size: [3, 3]",
        "  encoder_conv_strides: [2, 2]",
        f"  decoder_conv_t_filters: [8, {shape[2]}]",
        "  decoder_conv_t_kernel_size: [3, 3]",
        "  decoder_conv_t_strides: [2, 2]",
        "  z_dim: 3",
        "  seed: 1",
        "data:",
        f"  dataset: {dataset}",
        *(f"  {key}: {value}" for key, value in data.items()),
        "train:",
        "  epochs: 1",
        "  batch_size: 4",
    ]
    path = tmp_path / "folder.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# Decoding


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_decode_converts_to_the_model_channels_and_size(tmp_path, suffix):
    path = picture(tmp_path / f"a{suffix}", COLORS["red"], size=(40, 20))
    rgb, grey = decode_image(path, (10, 10, 3)), decode_image(path, (10, 10, 1))
    assert rgb.shape == (10, 10, 3) and grey.shape == (10, 10, 1) and rgb.dtype == np.uint8
    assert rgb[..., 0].mean() > 3 * rgb[..., 2].mean()  # still red
    grey_file = picture(tmp_path / f"g{suffix}", COLORS["red"], mode="L")
    assert decode_image(grey_file, (10, 10, 3)).std(axis=-1).max() <= 1  # grey in 3 channels


def test_center_crop_keeps_the_aspect_ratio_and_resize_does_not(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, 10:20] = 255  # a white centre third of a wide black image
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    cropped = decode_image(path, (10, 10, 1), "center_crop")
    resized = decode_image(path, (10, 10, 1), "resize")
    assert cropped.min() > 200  # the crop is the white centre
    assert resized[:, 0].max() < 50 and resized[:, 5].min() > 200  # squeezed: black, white, black


# Layouts and labels


def test_class_folders_give_sorted_labels_and_a_seeded_test_split(tmp_path):
    root = class_folder(tmp_path / "pets")
    data = datasets.open_images(root, (16, 16, 3))
    assert data.classes == ["blue", "green", "red"]
    assert len(data.train) + len(data.test) == 24 and len(data.test) == 2  # round(24 * 0.1)
    again = datasets.open_images(root, (16, 16, 3))
    assert list(again.test.paths) == list(data.test.paths)  # the same split every time
    for images in (data.train, data.test):
        names = [Path(p).parent.name for p in images.paths]
        assert [data.classes[label] for label in images.labels] == names
    batch = data.train.take([0, 1])
    assert batch.shape == (2, 16, 16, 3) and batch.dtype == np.float32 and batch.max() <= 1


def test_train_and_test_subfolders_are_the_split(tmp_path):
    root = class_folder(tmp_path / "set", per_class=4, split="train")
    class_folder(root, per_class=2, split="test")
    data = datasets.open_images(root, (16, 16, 1), test_split=0.5)
    assert (len(data.train), len(data.test)) == (12, 6)
    assert all("/test/" in p for p in data.test.paths) and data.classes == sorted(COLORS)


def test_a_flat_folder_has_no_labels_and_csv_labels_are_read(tmp_path):
    root = tmp_path / "flat"
    for i in range(10):
        picture(root / f"{i}.png", COLORS["green"], seed=i)
    data = datasets.open_images(root, (8, 8, 3), test_split=0.2)
    assert data.classes is None and data.train.labels is None and len(data.test) == 2
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "".join(f"{i}.png,{i % 3}\n" for i in range(10)))
    data = datasets.open_images(root, (8, 8, 3), labels=str(labels))
    found = {Path(p).name: int(y) for p, y in zip(data.train.paths, data.train.labels, strict=True)}
    assert found == {name: int(name[0]) % 3 for name in found}


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda root: root.mkdir(), "no image files"),
        (
            lambda root: (
                picture(root / "loose.png", COLORS["red"]),
                picture(root / "cats" / "1.png", COLORS["red"]),
            ),
            "holds both image files (loose.png, ...) and class folders (cats)",
        ),
        (
            lambda root: (
                class_folder(root, 2, "train"),
                picture(root / "test" / "zebra" / "1.png", COLORS["red"]),
            ),
            "differ from train/'s",
        ),
    ],
    ids=["empty", "files-and-classes", "other-test-classes"],
)
def test_layout_mistakes_are_one_line(tmp_path, make, words):
    root = tmp_path / "images"
    make(root)
    with pytest.raises(DataError) as caught:
        datasets.open_images(root, (8, 8, 3))
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("file,label\n0.png,cat\n1.png,1\n", "line 2 is '0.png,cat'; expected file,label"),
        ("file,label\n0.png,1\n1.png,-2\n", "line 3 is '1.png,-2'"),
        ("0.png,1\n", "no label for 1.png"),
    ],
)
def test_labels_that_do_not_parse_are_one_line(tmp_path, content, words):
    root = tmp_path / "flat"
    for i in range(2):
        picture(root / f"{i}.png", COLORS["red"], seed=i)
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    with pytest.raises(DataError) as caught:
        datasets.open_images(root, (8, 8, 3), labels=str(labels))
    assert words in str(caught.value)


# Bad files


def with_bad_files(root: Path) -> Path:
    class_folder(root, per_class=4)
    (root / "red" / "empty.png").write_bytes(b"")
    (root / "green" / "cut.jpg").write_bytes(picture(root / "x.jpg", (1, 2, 3)).read_bytes()[:60])
    (root / "x.jpg").unlink()
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(root / "blue" / "wide.png")  # 16-bit
    return root


def test_bad_files_are_skipped_and_listed(tmp_path):
    root = with_bad_files(tmp_path / "images")
    data = datasets.open_images(root, (8, 8, 3))
    bad = dict(data.manifest.bad)
    assert set(bad) == {"red/empty.png", "green/cut.jpg", "blue/wide.png"}
    assert bad["red/empty.png"] == "empty file"
    assert bad["blue/wide.png"] == "I;16 pixels (more than 8 bits a channel)"
    assert bad["green/cut.jpg"].startswith("truncated")
    assert not any("Error" in why for why in bad.values()), "reasons in words, not type names"
    assert len(data.train) + len(data.test) == 12  # the good ones
    data.manifest.write_bad_files(tmp_path / "bad_files.txt")
    assert (tmp_path / "bad_files.txt").read_text().count("\n") == 3


def test_bad_files_stop_the_run_with_on_bad_file_error(tmp_path, capsys):
    root = with_bad_files(tmp_path / "images")
    out = tmp_path / "run"
    config = config_file(tmp_path, root, shape=(8, 8, 3), on_bad_file="error")
    assert main(["train", "--config", config, "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("vaekit: error: ") and len(error.splitlines()) == 1
    assert "3 bad files in all (set data.on_bad_file: skip to leave them out)" in error
    assert not out.exists()


# Manifests


def test_a_manifest_round_trips_and_notices_a_changed_folder(tmp_path):
    root = class_folder(tmp_path / "images", per_class=3)
    manifest = folder.build(root, (8, 8, 3))
    manifest.save(tmp_path / "manifest.json")
    again = folder.Manifest.read(tmp_path / "manifest.json")
    assert again == manifest and again.verify() == []
    picture(root / "red" / "new.png", COLORS["red"])
    added = f"{root}: 1 files added since this run listed the folder are not part of it"
    assert again.verify() == [added]
    changed = root / again.files["train"][0][0]
    time.sleep(0.01)
    picture(changed, COLORS["blue"], size=(30, 30))
    (root / again.files["test"][0][0]).unlink()
    with pytest.raises(DataError) as caught:
        again.verify()
    message = str(caught.value)
    assert "the folder changed since this run listed it: 1 changed" in message
    assert "1 missing" in message and "start a new run" in message


def test_the_pipeline_streams_the_same_pixels_as_take(tmp_path):
    images = datasets.open_images(class_folder(tmp_path / "i", per_class=4), (8, 8, 3)).train
    assert isinstance(images, FileImages)
    batches = list(iterate(make_dataset(images, 4, seed=3, epochs=1)))
    order = np.random.default_rng([3, 0]).permutation(len(images))
    for b, (x, _) in enumerate(batches):
        np.testing.assert_array_equal(np.asarray(x), images.take(order[b * 4 : (b + 1) * 4]))


# Training on a folder


def test_training_on_a_folder_resumes_mid_epoch_exactly(tmp_path):
    root = class_folder(tmp_path / "images", per_class=8)
    config = config_file(tmp_path, root)
    settings = ["--set", "train.epochs=2", "--set", "train.checkpoint_every_steps=2"]
    settings += ["--set", "train.keep_checkpoints=20", "--quiet"]
    straight = tmp_path / "straight"
    assert main(["train", "--config", config, "--out", str(straight), *settings]) == 0
    assert (straight / "manifest.json").is_file()
    crashed = tmp_path / "crashed"
    subprocess.run(["cp", "-r", str(straight), str(crashed)], check=True)
    for path in list_checkpoints(crashed / "checkpoints"):
        if checkpoint_position(path) > (0, 2):
            path.unlink()
    (crashed / "model.keras").unlink()
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    got, want = read_metrics(crashed / "metrics.csv"), read_metrics(straight / "metrics.csv")
    assert [r["epoch"] for r in got] == [1, 2]
    for key in ("loss", "bce", "kl", "val_loss"):
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in want], rtol=1e-6)


def test_a_changed_folder_stops_a_resume_with_one_line(tmp_path, capsys):
    root = class_folder(tmp_path / "images", per_class=4)
    out = tmp_path / "run"
    assert main(["train", "--config", config_file(tmp_path, root), "--out", str(out)]) == 0
    next(root.rglob("*.png")).unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--set", "train.epochs=2"]) == 2
    error = capsys.readouterr().err.strip()
    assert "the folder changed since this run listed it: 1 missing" in error
    assert len(error.splitlines()) == 1


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (
            {"image_size": "[8, 8]"},
            "data.image_size: got [8, 8], but model.input_dim is [16, 16, 3]",
        ),
        ({"labels": "labels.txt"}, "data.labels: got 'labels.txt'"),
        ({"resize": "squash"}, "data.resize: got 'squash', expected one of center_crop, resize"),
    ],
)
def test_folder_settings_that_cannot_work_exit_2_before_the_run_folder(
    tmp_path, capsys, settings, words
):
    root = class_folder(tmp_path / "images", per_class=2)
    out = tmp_path / "run"
    assert (
        main(["train", "--config", config_file(tmp_path, root, **settings), "--out", str(out)]) == 2
    )
    assert words in capsys.readouterr().err and not out.exists()


def test_the_console_script_trains_on_an_rgb_folder_and_evaluates_it_in_new_processes(tmp_path):
    root = class_folder(tmp_path / "images", per_class=10)
    (root / "red" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "run"
    config = config_file(tmp_path, root, shape=(32, 32, 3))
    env = {**os.environ}
    trained = subprocess.run(
        [VAEKIT, "train", "--config", config, "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert f"{root}: skipped 1 bad file (first: red/empty.jpg: empty file)" in trained.stderr
    assert (out / "bad_files.txt").read_text() == "red/empty.jpg\tempty file\n"
    assert {p.name for p in (out / "plots").iterdir()} >= {"reconstructions.png", "traversals.png"}
    evaluated = subprocess.run(
        [VAEKIT, "evaluate", str(out), "--samples", "4", "--limit", "16", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert evaluated.returncode == 0 and "loss" in evaluated.stdout, evaluated.stderr


def test_a_cached_folder_trains_exactly_as_a_streamed_one(tmp_path):
    root = class_folder(tmp_path / "images", per_class=6)
    config = config_file(tmp_path, root)
    runs = {}
    for cache in ("false", "true"):
        out = tmp_path / f"cache-{cache}"
        sets = ["--set", f"data.cache={cache}", "--set", "train.epochs=2", "--quiet"]
        assert main(["train", "--config", config, "--out", str(out), *sets]) == 0
        runs[cache] = read_metrics(out / "metrics.csv")
    cached = tmp_path / "cache-true" / "cache"
    train_images = len(
        folder.Manifest.read(tmp_path / "cache-true" / "manifest.json").files["train"]
    )
    assert (cached / "train.u8").stat().st_size == train_images * 16 * 16 * 3
    assert not (tmp_path / "cache-false" / "cache").exists()
    assert runs["true"] == [
        {**row, "seconds": r["seconds"]} for row, r in zip(runs["false"], runs["true"], strict=True)
    ]
