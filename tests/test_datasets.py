"""Specification of vaekit.datasets: the shipped MNIST files, IDX parsing, user .npz files and
the registry of named sets (folders, Fashion-MNIST and shapes have test modules of their own)."""

import doctest
import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from vaekit import datasets
from vaekit.datasets import SOURCES, ArrayImages, load, mnist, read_idx, sha256, validate_images
from vaekit.datasets.idx import FILES
from vaekit.errors import DataError

MNIST_DIR = mnist.directory()
IMAGES = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)  # a valid tiny split


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def _copy_mnist(directory: Path) -> Path:
    for filename in FILES.values():
        shutil.copy(MNIST_DIR / filename, directory / filename)
    return directory


# MNIST


def test_mnist_shapes_dtypes_ranges_and_label_counts():
    (x_train, y_train), (x_test, y_test) = load("mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert (x_train.min(), x_train.max(), x_test.min(), x_test.max()) == (0.0, 1.0, 0.0, 1.0)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    # The per-digit counts of the canonical test set.
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y_train, minlength=10).min() > 5000


def test_mnist_is_cached_and_read_only():
    (x_first, y_first), _ = load("mnist")
    (x_again, _), _ = load("mnist")
    assert x_again is x_first
    with pytest.raises(ValueError, match="read-only"):
        x_first[0, 0, 0, 0] = 0.5
    with pytest.raises(ValueError, match="read-only"):
        y_first[0] = 3


def test_limit_keeps_the_first_images_of_each_split():
    (x_full, y_full), (x_test_full, _) = load("mnist")
    (x_train, y_train), (x_test, y_test) = load("mnist", limit=10)
    assert x_train.shape == x_test.shape == (10, 28, 28, 1)
    assert y_train.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4] == y_full[:10].tolist()
    assert np.array_equal(x_train, x_full[:10]) and np.array_equal(x_test, x_test_full[:10])
    assert len(y_test) == 10


def test_limit_larger_than_the_data_keeps_everything(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=IMAGES, x_test=IMAGES[:2])
    (x_train, _), (x_test, _) = load(path, limit=3)
    assert len(x_train) == 3 and len(x_test) == 2


@pytest.mark.parametrize("limit", [0, -1, 2.5, "10", True])
def test_invalid_limit_is_rejected(limit):
    with pytest.raises(DataError, match=r"limit: got .* expected an integer >= 1"):
        load("mnist", limit=limit)


def test_hard_coded_checksums_match_the_readme_and_the_shipped_files():
    readme = (MNIST_DIR / "README.md").read_text()
    for role, filename in FILES.items():
        assert f"| {filename} |" in readme and mnist.SHA256[role] in readme
        assert sha256(MNIST_DIR / filename) == mnist.SHA256[role]


def test_a_corrupted_mnist_copy_fails_its_checksum(tmp_path, monkeypatch):
    label_file = _copy_mnist(tmp_path) / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(label_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    label_file.write_bytes(bytes(data))
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte\.gz: SHA-256 [0-9a-f]{64}, expected"
    ):
        mnist.load(tmp_path)
    monkeypatch.setattr(mnist, "directory", lambda: tmp_path)
    datasets._as_arrays.cache_clear()
    with pytest.raises(DataError, match="corrupt or not the canonical MNIST file"):
        load("mnist")
    datasets._as_arrays.cache_clear()


def test_a_missing_mnist_file_is_named(tmp_path):
    (_copy_mnist(tmp_path) / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: MNIST file missing"):
        mnist.load(tmp_path)


# IDX


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(_idx_bytes(array)) if compress else _idx_bytes(array))
    assert np.array_equal(read_idx(path, magic=0x00000803), array)


def test_read_idx_returns_native_byte_order_for_multi_byte_types(tmp_path):
    array = np.array([[-1.5, 2.0], [3.25, 1e6]])
    path = tmp_path / "floats.idx"
    path.write_bytes(_idx_bytes(array.astype(">f8"), type_code=0x0E))
    result = read_idx(path)
    assert result.dtype == np.float64 and result.dtype.isnative
    assert np.array_equal(result, array)


def test_read_idx_names_a_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"absent\.idx: no such file"):
        read_idx(tmp_path / "absent.idx")


@pytest.mark.parametrize(
    ("content", "magic", "words"),
    [
        (
            gzip.compress(_idx_bytes(np.zeros((2, 3), np.uint8)))[:-9],
            None,
            ["truncated or corrupt"],
        ),
        (b"\x1f\x8bnot gzip at all", None, ["truncated or corrupt"]),
        (b"\x00\x00\x08", None, ["0x000008", "is not IDX"]),
        (b"\x12\x34\x08\x01" + bytes(8), None, ["0x12340801", "is not IDX"]),
        (_idx_bytes(np.zeros(5, np.uint8)), 0x00000803, ["magic 0x00000801", "0x00000803"]),
        (_idx_bytes(np.zeros((2, 3), np.uint8))[:-1], None, ["17 bytes, expected 18", "(2, 3)"]),
        (_idx_bytes(np.zeros(2, np.uint8)) + b"!", None, ["trailing data"]),
        (b"\x00\x00\x08\x03" + bytes(4), None, ["too short for its 16-byte header"]),
    ],
    ids=[
        "truncated-gzip",
        "bad-gzip",
        "short",
        "bad-magic",
        "wrong-magic",
        "short-data",
        "trailing-data",
        "short-header",
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, content, magic, words):
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_idx(path, magic=magic)
    assert all(word in str(caught.value) for word in [*words, "bad.idx"]), caught.value


# .npz files and validate_images


def test_npz_round_trip_adds_channel_axis_and_scales_integers_with_a_warning(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, size=(5, 6, 7), dtype=np.uint8)
    y_train = rng.integers(0, 10, size=5, dtype=np.int32)
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_train[:2])
    with pytest.warns(UserWarning) as caught:
        (x, y), (x_test, y_test) = load(str(path))
    messages = [str(warning.message) for warning in caught]
    assert messages == [
        f"{path} [x_train]: uint8 values scaled from 0..255 to [0, 1]",
        f"{path} [x_test]: uint8 values scaled from 0..255 to [0, 1]",
    ]
    assert x.shape == (5, 6, 7, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], x_train / 255, rtol=1e-6)
    assert y.dtype == np.int64 and y.tolist() == y_train.tolist()
    assert x_test.shape == (2, 6, 7, 1) and y_test is None


def test_npz_float_images_in_range_load_silently(tmp_path):
    path = tmp_path / "data.npz"
    np.savez_compressed(path, x_train=IMAGES.astype(np.float64), x_test=IMAGES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x_train, y_train), (x_test, _) = load(path)
    assert x_train.dtype == np.float32 and y_train is None
    assert np.array_equal(x_train, IMAGES) and np.array_equal(x_test, IMAGES)


def _write_npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def _truncated(tmp_path):
    path = _write_npz(tmp_path, x_train=IMAGES, x_test=IMAGES)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _with_non_finite(tmp_path):
    x = IMAGES.copy()
    x[1, 2, 3, 0] = np.nan
    x[2, 0, 0, 0] = np.inf
    x[3, 7, 7, 0] = np.nan
    return _write_npz(tmp_path, x_train=x, x_test=IMAGES)


def _not_a_zip(tmp_path):
    path = tmp_path / "data.npz"
    path.write_bytes(b"this is not a zip archive")
    return path


def _single_array(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as file:
        np.save(file, IMAGES)
    return path


BAD_NPZ = {
    "missing-file": (lambda tmp: tmp / "data.npz", ["data.npz", "no such file", "mnist"]),
    "truncated": (_truncated, ["data.npz", "cannot read as .npz: truncated or corrupt"]),
    "not-a-zip": (_not_a_zip, ["data.npz", "not an .npz file"]),
    "single-array": (_single_array, ["data.npz", "single array", "x_train"]),
    "missing-key": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES, images=IMAGES),
        ["missing key 'x_test'", "keys present: ['images', 'x_train']"],
    ),
    "non-finite": (_with_non_finite, ["[x_train]", "3 non-finite", "first at index (1, 2, 3, 0)"]),
    "float-range": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES * 3 - 0.5, x_test=IMAGES),
        ["[x_train]", "values in [-0.", ", 2.", "expected [0, 1]", "binary cross-entropy"],
    ),
    "integer-range": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES, x_test=np.full((2, 8, 8), 300, np.int16)),
        ["[x_test]", "[300, 300]", "0..255"],
    ),
    "empty": (
        lambda tmp: _write_npz(tmp, x_train=np.zeros((0, 8, 8), np.float32), x_test=IMAGES),
        ["[x_train]", "empty", "(0, 8, 8)"],
    ),
    "flat-images": (
        lambda tmp: _write_npz(tmp, x_train=np.zeros((4, 64)), x_test=IMAGES),
        ["[x_train]", "shape (4, 64)", "(N, H, W)"],
    ),
    "strings": (
        lambda tmp: _write_npz(tmp, x_train=np.full((1, 2, 2), "a"), x_test=IMAGES),
        ["[x_train]", "dtype <U1"],
    ),
    "image-shapes-differ": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES, x_test=np.zeros((2, 6, 6, 1))),
        ["x_train images are (8, 8, 1)", "x_test images are (6, 6, 1)"],
    ),
    "label-count": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES, x_test=IMAGES, y_train=np.arange(3)),
        ["[y_train]", "shape (3,) for 4 images"],
    ),
    "float-labels": (
        lambda tmp: _write_npz(tmp, x_train=IMAGES, x_test=IMAGES, y_test=np.zeros(4)),
        ["[y_test]", "float64", "integer class labels"],
    ),
}


@pytest.mark.parametrize(("make", "words"), BAD_NPZ.values(), ids=BAD_NPZ.keys())
def test_bad_npz_files_raise_a_one_line_data_error(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(DataError) as caught:
        load(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert all(word in message for word in words), message


def test_validate_images_keeps_four_dimensional_float_images():
    x = validate_images(IMAGES[..., 0].astype(np.float16), "faces")
    assert x.shape == (4, 8, 8, 1) and x.dtype == np.float32
    assert validate_images(IMAGES > 0.5, "masks").max() == 1.0


def test_integer_images_stay_uint8_in_the_image_set_and_are_scaled_per_batch(tmp_path):
    x_train = np.arange(4 * 2 * 2, dtype=np.int32).reshape(4, 2, 2) * 15
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x_train, x_test=x_train)
    with pytest.warns(UserWarning, match="scaled from 0..255"):
        data = datasets.open_images(path)
    assert data.train.array.dtype == np.uint8  # a quarter of float32's memory
    np.testing.assert_array_equal(
        data.train.take([3, 0])[..., 0], x_train[[3, 0]].astype(np.float32) / np.float32(255)
    )


# names and the registry


@pytest.mark.parametrize("name", ["mnsit", "MNIST", "cifar10"])
def test_unknown_name_lists_the_valid_names(name):
    with pytest.raises(
        DataError,
        match=rf"unknown data set '{name}': expected one of mnist, fashion_mnist, shapes, "
        r"shapes_color, an \.npz file or a folder of images",
    ):
        load(name)


def test_load_dispatches_through_the_registry(monkeypatch):
    tiny = (ArrayImages(IMAGES, np.arange(4)), ArrayImages(IMAGES[:1]))
    source = datasets.Source(lambda: tiny, lambda: "here", "a tiny set")
    monkeypatch.setitem(SOURCES, "tiny", source)
    (x_train, y_train), (x_test, y_test) = load("tiny", limit=2)
    assert x_train.shape == (2, 8, 8, 1) and y_train.tolist() == [0, 1]
    assert len(x_test) == 1 and y_test is None
    assert ("tiny", "here", "a tiny set") in datasets.available()
    datasets._as_arrays.cache_clear()


def test_docstring_examples_run():
    assert doctest.testmod(datasets).failed == 0
