"""Behaviour of vaekit.plots: each plot writes a valid PNG atomically and returns its Figure."""

import doctest

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from vaekit import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def images(count=6, height=8, width=8, channels=1, seed=0):
    return np.random.default_rng(seed).random((count, height, width, channels)).astype(np.float32)


def assert_png(path):
    """The file is a complete PNG that matplotlib reads back as an RGBA image."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] == 4
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert not list(path.parent.glob(".*tmp*")), "the temporary file was left behind"
    return pixels


def test_tile_images_places_image_i_in_row_i_div_cols_and_column_i_mod_cols():
    constant = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 3, 4, 1))
    canvas = plots.tile_images(constant, rows=2, cols=3)
    assert canvas.shape == (6, 12)
    for index in range(5):
        row, col = divmod(index, 3)
        assert np.all(canvas[row * 3 : (row + 1) * 3, col * 4 : (col + 1) * 4] == index)
    assert np.all(canvas[3:, 8:] == 0), "the missing sixth tile stays blank"


def test_tile_images_keeps_rgb_channels_and_rejects_too_many_images():
    assert plots.tile_images(images(4, channels=3), 2, 2).shape == (16, 16, 3)
    assert plots.tile_images(images(4)[..., 0], 1, 4).shape == (8, 32)
    with pytest.raises(ValueError, match="N <= 4"):
        plots.tile_images(images(5), 2, 2)


def test_latent_grid_spans_the_range_symmetrically_in_canvas_order():
    grid = plots.latent_grid(5, span=2.5)
    assert grid.shape == (25, 2)
    assert grid.min() == -2.5 and grid.max() == 2.5
    np.testing.assert_allclose(grid[:5, 0], -grid[:5, 0][::-1])
    assert np.all(np.diff(grid[:5, 0]) > 0), "z[0] increases along a row"
    assert np.all(grid[:5, 1] == 2.5), "the top row has the largest z[1]"
    steps = np.diff(grid[:5, 0])
    assert steps[0] > steps[1], "normal quantiles are denser near 0"


@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_plot_latent_space_writes_png_for_each_latent_dim(tmp_path, latent_dim):
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(200, latent_dim)), rng.integers(0, 10, 200)
    path = tmp_path / "nested" / "latent.png"
    fig = plots.plot_latent_space(z, labels, path)
    assert isinstance(fig, Figure)
    assert_png(path)
    assert len(fig.axes) == 2, "scatter and colorbar"


def test_plot_latent_space_titles_the_pca_projection_with_the_dimension(tmp_path):
    z = np.random.default_rng(0).normal(size=(100, 5))
    fig = plots.plot_latent_space(z, None, tmp_path / "latent.png")
    title = fig.axes[0].get_title()
    assert "PCA of 5-D z" in title and "% of variance" in title


def test_plot_latent_space_without_labels_draws_a_histogram_for_1d_z(tmp_path):
    z = np.random.default_rng(0).normal(size=(100, 1))
    fig = plots.plot_latent_space(z, None, tmp_path / "latent.png")
    assert "histogram" in fig.axes[0].get_title()
    assert_png(tmp_path / "latent.png")


@pytest.mark.parametrize("channels", [1, 3])
def test_plot_reconstructions_writes_png_for_grey_and_rgb(tmp_path, channels):
    originals = images(12, channels=channels)
    fig = plots.plot_reconstructions(originals, 1 - originals, tmp_path / "rec.png", n=5)
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "rec.png")
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels == ["original", "reconstruction"]
    assert fig.axes[0].images[0].get_array().shape[:2] == (16, 40)
    # Ten pairs: two blocks of five, each originals over their reconstructions.
    fig = plots.plot_reconstructions(originals, 1 - originals, tmp_path / "rec.png")
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels == ["original", "reconstruction"] * 2
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape[:2] == (32, 40)
    np.testing.assert_allclose(canvas[16:24, :8].squeeze(), originals[5].squeeze(), atol=1e-6)
    np.testing.assert_allclose(canvas[24:32, :8].squeeze(), 1 - originals[5].squeeze(), atol=1e-6)


def test_plot_reconstructions_rejects_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match="reconstructions"):
        plots.plot_reconstructions(images(4), images(3), tmp_path / "rec.png")


@pytest.mark.parametrize("channels", [1, 3])
def test_plot_samples_draws_a_square_grid(tmp_path, channels):
    fig = plots.plot_samples(images(10, channels=channels), tmp_path / "samples.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "samples.png")
    assert fig.axes[0].images[0].get_array().shape[:2] == (3 * 8, 4 * 8)
    assert fig.axes[0].get_title() == "samples decoded from z ~ N(0, I)"


def test_plot_manifold_decodes_the_whole_grid_in_one_call(tmp_path):
    calls = []

    def decode(z):
        calls.append(z.copy())
        return np.ones((len(z), 6, 6, 1)) * (z[:, :1, None, None] + 3) / 6

    fig = plots.plot_manifold(decode, tmp_path / "manifold.png", n=4, span=2.0)
    assert len(calls) == 1 and calls[0].shape == (16, 2)
    np.testing.assert_array_equal(calls[0], plots.latent_grid(4, 2.0))
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "manifold.png")
    ticks = [label.get_text() for label in fig.axes[0].get_xticklabels()]
    assert ticks[0] == "-2" and ticks[-1] == "2"


def test_plot_manifold_rejects_a_decode_returning_the_wrong_count(tmp_path):
    with pytest.raises(ValueError, match="decode"):
        plots.plot_manifold(lambda z: images(3), tmp_path / "manifold.png", n=3)


def test_plot_loss_accepts_a_history_dict(tmp_path):
    history = {"loss": [3.0, 2.0, 1.5], "bce": [2.5, 1.8, 1.3], "kl": [0.5, 0.2, 0.2]}
    history |= {f"val_{key}": values for key, values in history.items()}
    fig = plots.plot_loss(history, tmp_path / "loss.png")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "bce", "kl"]
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 2]
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss 1.5", "val_loss 1.5"]
    width, height = fig.get_size_inches()
    assert width < 6 < height, "panels stacked: narrow enough to read on a page"
    assert_png(tmp_path / "loss.png")


def test_a_one_epoch_curve_says_its_values_and_is_centred_on_its_epoch(tmp_path):
    rows = [{"epoch": 1, "loss": 0.25, "bce": 0.2, "kl": 0.05, "val_loss": 0.3}]
    fig = plots.plot_loss(rows, tmp_path / "loss.png")
    assert "1 epoch" in fig.get_suptitle()
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss 0.25", "val_loss 0.3"]
    assert ax.get_xlim() == (0.5, 1.5) and ax.lines[0].get_markersize() >= 6
    nelbo = plots.plot_nelbo([{"epoch": 1, "nelbo": 120.0, "val_nelbo": 119.0}], tmp_path / "n.png")
    assert nelbo.axes[0].get_xlim() == (0.5, 1.5) and "1 epoch" in nelbo.axes[0].get_title()


def test_plot_loss_accepts_csv_rows_with_empty_validation_values(tmp_path):
    rows = [
        {"epoch": "0", "loss": "3.0", "bce": "2.5", "kl": "0.5", "val_loss": "", "val_kl": ""},
        {"epoch": "1", "loss": "2.0", "bce": "1.8", "kl": "0.2", "val_loss": "2.2", "val_kl": ""},
    ]
    fig = plots.plot_loss(rows, tmp_path / "loss.png")
    loss_lines = {line.get_label().split()[0]: line for line in fig.axes[0].lines}
    assert sorted(loss_lines) == ["loss", "val_loss"]
    np.testing.assert_array_equal(loss_lines["val_loss"].get_xdata(), [2])
    np.testing.assert_array_equal(loss_lines["val_loss"].get_ydata(), [2.2])
    assert [len(ax.lines) for ax in fig.axes] == [2, 1, 1], "an all-empty val_kl is not drawn"
    assert_png(tmp_path / "loss.png")


def test_plot_loss_rejects_history_without_known_curves(tmp_path):
    with pytest.raises(ValueError, match="'loss'"):
        plots.plot_loss({"accuracy": [0.5]}, tmp_path / "loss.png")


def test_saving_replaces_an_existing_plot(tmp_path):
    path = tmp_path / "samples.png"
    path.write_bytes(b"old")
    plots.plot_samples(images(4), path)
    assert_png(path)


def test_docstring_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their PNGs to the working directory
    result = doctest.testmod(plots, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_plot_latent_space_of_a_single_high_dimensional_point(tmp_path):
    # PCA of one point has one component: the plot still draws it (at the origin).
    plots.plot_latent_space(np.ones((1, 5)), np.array([3]), tmp_path / "one.png")
    assert_png(tmp_path / "one.png")


def test_plot_traversals_sweeps_the_dimensions_of_highest_kl(tmp_path):
    decoded = []

    def decode(z):
        decoded.append(z)
        return np.broadcast_to(z[:, :1, None, None] * 0 + 0.5, (len(z), 6, 6, 1))

    kl = np.array([0.1, 3.0, 0.0, 1.5])
    plots.plot_traversals(decode, np.full(4, 0.25), kl, tmp_path / "t.png", dims=2, n=5)
    assert_png(tmp_path / "t.png")
    (points,) = decoded  # one batched call
    assert points.shape == (10, 4)
    np.testing.assert_allclose(points[:5, 1], np.linspace(-3, 3, 5))  # row 1: z[1], KL 3.0
    np.testing.assert_allclose(points[5:, 3], np.linspace(-3, 3, 5))  # row 2: z[3], KL 1.5
    assert (points[:5, [0, 2, 3]] == 0.25).all() and (points[5:, [0, 1, 2]] == 0.25).all()


class RecordingDecode:
    """A decode that records every batch of latent points and draws each as a flat image."""

    def __init__(self, channels=1, size=6):
        self.calls, self.channels, self.size = [], channels, size

    def __call__(self, z):
        self.calls.append(np.array(z))
        shade = 1 / (1 + np.exp(-z[:, :1, None, None]))  # (N, 1, 1, 1), one grey level per point
        return np.broadcast_to(shade, (len(z), self.size, self.size, self.channels))


@pytest.mark.parametrize("channels", [1, 3])
def test_plot_interpolations_decodes_every_line_in_one_call_from_start_to_end(tmp_path, channels):
    rng = np.random.default_rng(0)
    starts, ends = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    decode = RecordingDecode(channels)
    fig = plots.plot_interpolations(decode, starts, ends, tmp_path / "i.png", steps=4)
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "i.png")
    (points,) = decode.calls  # one batched call
    assert points.shape == (3 * 4, 5) and points.dtype == np.float32
    rows = points.reshape(3, 4, 5)
    np.testing.assert_array_equal(rows[:, 0], starts.astype(np.float32))  # exactly the ends
    np.testing.assert_array_equal(rows[:, -1], ends.astype(np.float32))
    np.testing.assert_allclose(rows[:, 1], (2 * starts + ends) / 3, rtol=1e-5, atol=1e-6)
    assert fig.axes[0].images[0].get_array().shape[:2] == (3 * 6, 4 * 6)
    assert fig.axes[0].get_title() == "Interpolation through latent space"


@pytest.mark.parametrize("channels", [1, 3])
def test_plot_interpolations_shows_the_original_pair_as_first_and_last_column(tmp_path, channels):
    originals = images(3 * 2, height=6, width=6, channels=channels).reshape(3, 2, 6, 6, channels)
    decode = RecordingDecode(channels)
    path = tmp_path / "i.png"
    fig = plots.plot_interpolations(
        decode, np.zeros((3, 2)), np.ones((3, 2)), path, steps=5, originals=originals
    )
    assert_png(path)
    canvas = fig.axes[0].images[0].get_array().reshape(3 * 6, 7 * 6, channels)  # 3 x 7 tiles
    np.testing.assert_allclose(canvas[6:12, :6], originals[1, 0])  # pair 2, image A: first column
    np.testing.assert_allclose(canvas[6:12, -6:], originals[1, 1])  # pair 2, image B: last column
    assert len(fig.axes[0].lines) == 2, "a line sets each real image off from the decoded ones"
    labels = [label.get_text() for label in fig.axes[0].get_xticklabels()]
    assert labels[0] == "image A" and labels[-1] == "image B" and len(labels) == 7


def test_plot_interpolations_rejects_mismatched_inputs(tmp_path):
    decode, path = RecordingDecode(), tmp_path / "i.png"
    with pytest.raises(ValueError, match="starts, ends"):
        plots.plot_interpolations(decode, np.zeros((3, 2)), np.zeros((2, 2)), path)
    with pytest.raises(ValueError, match="originals"):
        plots.plot_interpolations(
            decode, np.zeros((2, 2)), np.ones((2, 2)), path, originals=images(4)
        )
    with pytest.raises(ValueError, match="decode"):
        plots.plot_interpolations(lambda z: images(3), np.zeros((2, 2)), np.ones((2, 2)), path)
    assert not path.exists()


def test_active_units_counts_dimensions_whose_mean_varies_above_the_threshold():
    rng = np.random.default_rng(0)
    signs = np.where(np.arange(1000) % 2 == 0, 1.0, -1.0)  # variance exactly 1 around mean 0
    mu = np.stack([np.full(1000, 0.7), np.sqrt(0.005) * signs, signs], axis=1)
    assert plots.active_units(mu) == 1, "variances 0, 0.005 and 1: only the last is active"
    assert plots.active_units(mu, threshold=0.001) == 2
    assert plots.active_units(rng.normal(size=(500, 8)) * 0.5) == 8
    assert plots.active_units(np.ones((1, 4))) == 0, "one image: nothing varies"


def test_plot_kl_per_dimension_counts_active_units_and_greys_collapsed_bars(tmp_path):
    kl = np.array([1.5, 0.004, 0.2, 0.0, 0.011, 0.01])
    fig = plots.plot_kl_per_dimension(kl, tmp_path / "kl.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "kl.png")
    ax = fig.axes[0]
    assert ax.get_title() == "3 of 6 latent dimensions active", "0.01 itself is not above 0.01"
    grey = {round(bar.get_x() + bar.get_width() / 2) for bar in ax.patches if _is_grey(bar)}
    assert grey == {1, 3, 5}
    assert len(ax.patches) == 6
    np.testing.assert_array_equal(ax.get_xticks(), np.arange(6))  # every index of a small z
    assert "active: KL > 0.01 nats" in fig.get_supxlabel()


def test_the_bars_and_the_title_count_active_dimensions_by_the_same_rule(tmp_path):
    # Two dimensions with KL above 0.01 whose posterior means hardly vary: by Burda's rule, which
    # the title counts, neither is active, and neither bar may be drawn as active.
    kl, variance = np.array([0.5, 0.3, 0.02, 0.2]), np.array([0.004, 0.2, 0.001, 0.5])
    fig = plots.plot_kl_per_dimension(kl, tmp_path / "kl.png", variance=variance)
    ax = fig.axes[0]
    assert ax.get_title() == "2 of 4 latent dimensions active"
    grey = {round(bar.get_x() + bar.get_width() / 2) for bar in ax.patches if _is_grey(bar)}
    assert grey == {0, 2}, "the bars coloured by the title's rule, not by their KL"
    assert "Var_x(E_q[z_d]) > 0.01" in fig.get_supxlabel() and "Burda" in fig.get_supxlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "active: Var_x(E_q[z_d]) > 0.01",
        "inactive",
    ]
    with pytest.raises(ValueError, match="variance"):
        plots.plot_kl_per_dimension(kl, tmp_path / "kl.png", variance=variance[:3])


def test_plot_kl_per_dimension_labels_a_64_dimensional_latent_sparsely(tmp_path):
    kl = np.where(np.arange(64) % 3 == 0, 1.0, 0.001)
    fig = plots.plot_kl_per_dimension(kl, tmp_path / "kl.png")
    assert_png(tmp_path / "kl.png")
    assert fig.axes[0].get_title() == "22 of 64 latent dimensions active"
    ticks = [t for t in fig.axes[0].get_xticks() if 0 <= t <= 63]
    assert 4 <= len(ticks) <= 20 and all(float(t).is_integer() for t in ticks)


def _is_grey(patch):
    red, green, blue, _ = patch.get_facecolor()
    return red == green == blue


def test_plot_nelbo_draws_both_curves_and_gives_their_final_values(tmp_path):
    rows = [
        {"epoch": 1, "loss": 0.3, "nelbo": 120.0, "val_nelbo": None, "seconds": 2.0},
        {"epoch": 2, "loss": 0.2, "nelbo": 101.25, "val_nelbo": 99.5, "seconds": 2.0},
        {"epoch": 3, "loss": 0.1, "nelbo": 95.0, "val_nelbo": 93.414, "seconds": 2.0},
    ]
    fig = plots.plot_nelbo(rows, tmp_path / "nelbo.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "nelbo.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert sorted(lines) == ["train 95.00", "val 93.41"]
    np.testing.assert_array_equal(lines["val 93.41"].get_xdata(), [2, 3])
    np.testing.assert_array_equal(lines["train 95.00"].get_ydata(), [120.0, 101.25, 95.0])
    assert ax.get_ylabel() == "negative ELBO (nats per image)"


def test_plot_nelbo_rejects_a_run_without_nelbo_values(tmp_path):
    old_run = [{"epoch": 1, "loss": 0.3, "val_loss": None}, {"epoch": 2, "loss": 0.2}]
    with pytest.raises(ValueError, match="nelbo"):
        plots.plot_nelbo(old_run, tmp_path / "nelbo.png")
    with pytest.raises(ValueError, match="nelbo"):
        plots.plot_nelbo([{"epoch": 1, "nelbo": None, "val_nelbo": None}], tmp_path / "n.png")
    assert not list(tmp_path.iterdir()), "no file is written"
