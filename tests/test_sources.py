"""Generated shapes and Fashion-MNIST: factors, determinism, caching, finding files offline."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from vaekit import datasets
from vaekit.datasets import fashion_mnist, shapes
from vaekit.datasets.idx import FILES
from vaekit.errors import DataError


@pytest.fixture(scope="module")
def rendered():
    return {name: shapes.render(spec) for name, spec in shapes.SPECS.items()}


@pytest.mark.parametrize("name", list(shapes.SPECS))
def test_every_combination_of_factors_appears_once(rendered, name):
    spec = shapes.SPECS[name]
    images, factors = rendered[name]
    grid = factors[:, :5]  # the colour of shapes_color is drawn, not a grid axis
    assert len(images) == int(np.prod(spec.levels[:5]))
    assert len({tuple(row) for row in grid.tolist()}) == len(images)
    for column, levels in enumerate(spec.levels):
        assert sorted(set(factors[:, column].tolist())) == list(range(levels))


def test_each_factor_moves_or_changes_the_shape(rendered):
    images, factors = rendered["shapes"]
    masks = images[..., 0] > 0
    index = {tuple(row): i for i, row in enumerate(factors.tolist())}

    def at(shape=0, scale=5, rotation=0, x=8, y=8):
        return masks[index[(shape, scale, rotation, x, y)]]

    assert at(scale=0).sum() < at(scale=5).sum()  # larger
    assert np.argwhere(at(x=2))[:, 1].mean() < np.argwhere(at(x=12))[:, 1].mean()  # rightwards
    assert np.argwhere(at(y=2))[:, 0].mean() < np.argwhere(at(y=12))[:, 0].mean()  # downwards
    assert not np.array_equal(at(rotation=0), at(rotation=1))  # turned (36 degrees)
    assert len({at(shape=s).tobytes() for s in range(3)}) == 3  # three different shapes
    assert masks.any(axis=(1, 2)).all()  # no image is empty


def test_shapes_are_the_same_every_time_and_coloured_ones_use_their_colour(rendered):
    again, factors = shapes.render(shapes.SPECS["shapes_color"])
    images, expected = rendered["shapes_color"]
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(factors, expected)
    for i in (0, 777, len(images) - 1):
        lit = images[i][images[i].any(axis=-1)]
        assert (lit == shapes.COLORS[factors[i, 5]]).all()


def test_the_cache_is_written_once_read_back_and_remade_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    monkeypatch.setitem(shapes.SPECS, "tiny", shapes.Spec("tiny", positions=2, color=False))
    train, test = shapes.load_spec(shapes.SPECS["tiny"])
    path = shapes.cache_path(shapes.SPECS["tiny"])
    assert path == tmp_path / "shapes" / "tiny-v1.npz" and path.is_file()
    assert len(train) + len(test) == 3 * 6 * 10 * 2 * 2 and len(test) == 72
    assert train.factors.names == ("shape", "scale", "rotation", "x", "y")
    assert (train.labels == train.factors.values[:, 0]).all()
    reloaded, _ = shapes.load_spec(shapes.SPECS["tiny"])
    np.testing.assert_array_equal(reloaded.array, train.array)
    path.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable cache"):
        remade, _ = shapes.load_spec(shapes.SPECS["tiny"])
    np.testing.assert_array_equal(remade.array, train.array)


# Fashion-MNIST


FOUND = fashion_mnist.find()


@pytest.mark.skipif(
    FOUND is None,
    reason=f"Fashion-MNIST is not installed here: `{fashion_mnist.INSTALL}` (CI installs it)",
)
def test_fashion_mnist_is_read_offline_with_its_classes():
    data = datasets.open_images("fashion_mnist")
    assert (len(data.train), len(data.test), data.train.shape) == (60000, 10000, (28, 28, 1))
    assert np.bincount(data.train.labels).tolist() == [6000] * 10
    assert np.bincount(data.test.labels).tolist() == [1000] * 10
    assert data.classes[9] == "Ankle boot"
    assert "found: " in dict((n, w) for n, w, _ in datasets.available())["fashion_mnist"]


@pytest.mark.skipif(
    FOUND is None, reason=f"Fashion-MNIST is not installed: {fashion_mnist.INSTALL}"
)
def test_a_copy_in_vaekit_data_is_found_first_and_checked(tmp_path, monkeypatch):
    copy = tmp_path / "fashion-mnist"
    copy.mkdir()
    for name in FILES.values():
        shutil.copy(FOUND / name, copy / name)
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    assert fashion_mnist.find() == copy
    labels = copy / FILES["y_test"]
    labels.write_bytes(labels.read_bytes()[:-10])
    fashion_mnist._read.cache_clear()
    with pytest.raises(DataError, match="corrupt or not the canonical Fashion-MNIST file"):
        fashion_mnist.load()
    fashion_mnist._read.cache_clear()


def test_when_absent_the_error_names_the_places_and_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "DEBIAN", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataError) as caught:
        datasets.open_images("fashion_mnist")
    message = str(caught.value)
    for place in (
        tmp_path / "fashion-mnist",
        tmp_path / "no-debian",
        Path("~/.keras").expanduser(),
    ):
        assert str(place) in message
    assert "sudo apt-get install dataset-fashion-mnist" in message and "\n" not in message
    assert "not found (install with" in fashion_mnist.where()
