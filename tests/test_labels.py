"""A conditional model's labels, figures and page (issue 26).

``vaekit generate --label``: a class folder's name wins over a number, and a number that could
mean two classes is refused naming both; a factor given twice, an empty part, an unknown name,
a value out of range or not an integer is one line naming what to write. Labels in an ``.npz``
that are no class numbers (negative, or more classes than images) name their array and the
valid range, as does a CSV label ``int`` cannot read. Figure titles say what they show;
``--out`` writes the picture format its extension names, as ``--help`` says, and a negative
``--seed`` is one line. A conditional report keeps within the README's 5 MB: its per-class grids
share one sprite sheet's bound.

Console tests run the installed script in a new process; the tiny runs are trained once per
module (slow). The label grammar, the titles and the grids' budget are also checked in-process.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import TINY, console_first, ok, one_line, vaekit, write_config
from test_report import FakeVAE, explorer_data

from vaekit import VariationalAutoencoder, datasets, plots
from vaekit.config import Config, ModelConfig
from vaekit.datasets import ArrayImages
from vaekit.errors import DataError
from vaekit.models import conditions
from vaekit.report import explorer as explorer_module
from vaekit.report import figures, write_run_report
from vaekit.training import run as runs

# Class folders named by numbers, each of one grey level: folder "2" is class number 1, and a
# model that learned them draws "2" darker than "3".
FOLDERS = {"1": 0, "2": 128, "3": 255}
FACTORS = ("shape", "scale", "rotation", "x", "y")  # shapes' factors, 3, 6, 10, 16 and 16 levels
SHAPES = ["square", "ellipse", "heart"]
README_BOUND = 5_000_000  # bytes: "stays under 5 MB" (README, Looking at a run)


# The label grammar, in-process: (label, model, class names, {column: value} or the words of
# the one-line refusal).
CLASS_3 = ModelConfig(conditional=True, condition_levels=[3])
DIGITS = ModelConfig(conditional=True, condition_levels=[10])
SHAPE_FACTORS = ModelConfig(
    conditional=True, condition="factors", condition_levels=[3, 6, 10, 16, 16]
)
NUMBERED = ["1", "2", "3"]
PARSE_CASES = [
    # Class names that are numbers: the name wins; a number that is no name is ambiguous.
    ("2", CLASS_3, NUMBERED, {0: 1}),
    ("3", CLASS_3, NUMBERED, {0: 2}),
    (" 1 ", CLASS_3, NUMBERED, {0: 0}),
    ("0", CLASS_3, NUMBERED, ["ambiguous", "no class is named '0'", "named '1'", "--label 1"]),
    ("02", CLASS_3, NUMBERED, ["ambiguous", "named '3'", "--label 2 for the class named '2'"]),
    ("4", CLASS_3, NUMBERED, ["class '4' is not one of the class names 1, 2, 3"]),
    ("-1", CLASS_3, NUMBERED, ["class '-1' is not one of the class names 1, 2, 3"]),
    # Names that agree with their numbers (digits 0 to 9): no ambiguity.
    ("1", CLASS_3, ["0", "1", "2"], {0: 1}),
    # Names that are not numbers: a number is the position.
    ("1", CLASS_3, ["cat", "dog", "emu"], {0: 1}),
    ("emu", CLASS_3, ["cat", "dog", "emu"], {0: 2}),
    ("Emu", CLASS_3, ["cat", "dog", "emu"], ["class 'Emu' is not one of 0 to 2, or one of cat"]),
    # No names (MNIST): numbers only, and the edges of the text.
    ("7", DIGITS, None, {0: 7}),
    ("10", DIGITS, None, ["class '10' is not one of 0 to 9"]),
    ("2.0", DIGITS, None, ["class '2.0' is not one of 0 to 9"]),
    ("\u00b2", DIGITS, None, ["class '\u00b2' is not one of 0 to 9"]),  # a digit int() refuses
    ("", DIGITS, None, ["--label '': empty", "a class number, 0 to 9"]),
    ("   ", DIGITS, None, ["empty"]),
    ("class=3", DIGITS, None, ["conditioned on the class alone", "e.g. --label 0"]),
    ("3,4", DIGITS, None, ["conditioned on the class alone"]),
    # Factors: NAME=LEVEL pairs, each factor once.
    ("shape=heart, x = 3", SHAPE_FACTORS, SHAPES, {0: 2, 3: 3}),
    ("heart", SHAPE_FACTORS, SHAPES, {0: 2}),
    ("x=3,x=4", SHAPE_FACTORS, SHAPES, ["factor 'x' is given twice (3 and 4)", "once"]),
    ("shape=1,shape=heart", SHAPE_FACTORS, SHAPES, ["factor 'shape' is given twice"]),
    ("shape=1,", SHAPE_FACTORS, SHAPES, ["an empty part", "NAME=LEVEL pairs"]),
    ("shape=1,,x=2", SHAPE_FACTORS, SHAPES, ["an empty part"]),
    ("=3", SHAPE_FACTORS, SHAPES, ["'=3' is not NAME=LEVEL"]),
    ("shape=", SHAPE_FACTORS, SHAPES, ["'shape=' is not NAME=LEVEL"]),
    ("shape=1,2", SHAPE_FACTORS, SHAPES, ["'2' is not NAME=LEVEL"]),
    ("colour=1", SHAPE_FACTORS, SHAPES, ["no factor 'colour'; factors: shape, scale, rotation"]),
    ("x=16", SHAPE_FACTORS, SHAPES, ["factor x '16' is not one of 0 to 15"]),
    ("x=1.5", SHAPE_FACTORS, SHAPES, ["factor x '1.5' is not one of 0 to 15"]),
    ("shape=star", SHAPE_FACTORS, SHAPES, ["factor shape 'star'", "square, ellipse, heart"]),
]


@pytest.mark.parametrize("label, config, classes, expected", PARSE_CASES)
def test_labels_parse_with_names_first_and_refuse_what_is_unclear(label, config, classes, expected):
    names = FACTORS if config.condition == "factors" else None
    if isinstance(expected, dict):
        assert conditions.parse_label(label, config, names, classes) == expected
        return
    with pytest.raises(DataError) as refused:
        conditions.parse_label(label, config, names, classes)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("--label")
    for words in expected:
        assert words in message, message


# The console script, on runs trained once for the module.


def _folders(root: Path) -> Path:
    for name, level in FOLDERS.items():
        (root / name).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(np.full((28, 28), level, np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A conditional run on class folders 1, 2 and 3 (black, grey, white images)."""
    folder = tmp_path_factory.mktemp("folders")
    changes = {
        "model": {"conditional": True},
        "data": {"dataset": str(_folders(folder / "images")), "limit": None},
        "train": {"epochs": 10, "batch_size": 6, "learning_rate": 0.01},
    }
    config = write_config(folder, changes)
    ok(vaekit("train", "--config", config, "--out", folder / "run", "--quiet"))
    return folder / "run"


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A conditional run on every factor of ``shapes`` (a tiny model, one epoch)."""
    folder = tmp_path_factory.mktemp("shapes")
    four = [4, 4, 4, 4]
    changes = {
        "model": {
            "input_dim": [64, 64, 1],
            "encoder_conv_filters": four,
            "encoder_conv_kernel_size": four,
            "encoder_conv_strides": [2, 2, 2, 2],
            "decoder_conv_t_filters": [4, 4, 4, 1],
            "decoder_conv_t_kernel_size": four,
            "decoder_conv_t_strides": [2, 2, 2, 2],
            "conditional": True,
            "condition": "factors",
        },
        "data": {"dataset": "shapes", "limit": 64},
        "train": {"batch_size": 32},
    }
    config = write_config(folder, changes)
    ok(vaekit("train", "--config", config, "--out", folder / "run", "--quiet"))
    return folder / "run"


def _brightness(path: Path) -> float:
    return float(np.asarray(Image.open(path).convert("L"), np.float64).mean())


@pytest.mark.slow
def test_generate_draws_the_class_folder_a_label_names(folder_run, tmp_path):
    shown = {}
    for name in FOLDERS:
        out = tmp_path / f"{name}.png"
        ok(vaekit("generate", folder_run, "-n", 4, "--seed", 0, "--label", name, "--out", out))
        shown[name] = _brightness(out)
    # Black, grey, white folders: "2" is the grey one, not the white folder 3 (class number 2).
    assert shown["1"] < shown["2"] < shown["3"], shown
    assert shown["3"] - shown["2"] > 10, shown


# (case, run, label, words of the one-line refusal); the first case runs through the console
# script, the others in-process (support.console_first).
REFUSED = [
    ("ambiguous", "folder", "0", ["--label 0: ambiguous", "no class is named '0'", "--label 1"]),
    ("no such name", "folder", "4", ["class '4' is not one of the class names 1, 2, 3"]),
    ("empty", "folder", "", ["--label '': empty", "a class name (1, 2, 3)"]),
    ("pairs for a class", "folder", "class=2", ["conditioned on the class alone"]),
    ("factor twice", "shapes", "x=3,x=4", ["factor 'x' is given twice (3 and 4)"]),
    ("empty part", "shapes", "shape=1,", ["an empty part", "NAME=LEVEL pairs"]),
    ("unknown factor", "shapes", "colour=1", ["no factor 'colour'", "shape, scale, rotation"]),
    ("out of range", "shapes", "scale=6", ["factor scale '6' is not one of 0 to 5"]),
    ("no integer", "shapes", "x=one", ["factor x 'one' is not one of 0 to 15"]),
]
REFUSED_RUNNERS = console_first(REFUSED)


@pytest.mark.slow
@pytest.mark.parametrize("case, which, label, words", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_label_that_is_unclear_is_one_line_and_writes_nothing(
    case, which, label, words, request, tmp_path
):
    run = request.getfixturevalue(f"{which}_run")
    out = tmp_path / "samples.png"
    result = REFUSED_RUNNERS[case]("generate", run, "-n", 4, "--label", label, "--out", out)
    assert result.returncode == 2
    line = one_line(result)
    for expected in words:
        assert expected in line, line
    assert not out.exists()


# (--out, other arguments, what is written: the file's first bytes, or the refusal's words)
OUTS = [
    ("x.jpg", [], b"\xff\xd8\xff"),
    ("x.PNG", [], b"\x89PNG"),
    ("x.bmp", [], ".bmp is not a format it writes; use .png, .jpg"),
    ("x", [], "no file extension; use .png"),
    ("folder", [], "is a folder; give a file name ending in .png"),
    ("x.png", ["--seed", "-1"], "--seed: got -1, expected an integer >= 0"),
]
OUTS_RUNNERS = console_first(OUTS)


@pytest.mark.slow
@pytest.mark.parametrize("name, arguments, expected", OUTS)
def test_generate_writes_the_format_its_extension_names(
    name, arguments, expected, folder_run, tmp_path
):
    (tmp_path / "folder").mkdir()
    out = tmp_path / name
    run = OUTS_RUNNERS[name]
    result = run("generate", folder_run, "-n", 4, "--label", "2", "--out", out, *arguments)
    if isinstance(expected, bytes):
        ok(result)
        assert out.read_bytes().startswith(expected)
    else:
        assert result.returncode == 2 and expected in one_line(result)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_generate_help_names_the_picture_formats_it_writes():
    text = " ".join(ok(vaekit("generate", "--help")).stdout.split())
    assert "PNG file" not in text
    assert ".png, .jpg, .jpeg, .webp, .tif, .tiff, .gif, .pdf, .svg" in text
    assert "name wins over a number" in text and "each factor once" in text


# Labels in an .npz that are no class numbers, refused before training: (array, {index: value}
# put there, words of the one line). Class labels are one-hot positions 0, 1, 2, ...
LABEL_ARRAYS = [
    (
        "negative y_train",
        "y_train",
        {3: -2},
        ["[y_train]: got -2 at index 3", "1 negative label", "(here 0 to 9)"],
    ),
    (
        "negative y_test",
        "y_test",
        {0: -1, 5: -1},
        ["[y_test]: got -1 at index 0", "2 negative labels", "from 0"],
    ),
    (
        "more classes than images",
        "y_train",
        {5: 10**9},
        ["[y_train]: got 1,000,000,000 at index 5", "1,000,000,001 classes for 40 labelled"],
    ),
]
ARRAY_RUNNERS = console_first(LABEL_ARRAYS)


@pytest.mark.parametrize("case, array, put, words", LABEL_ARRAYS, ids=[c[0] for c in LABEL_ARRAYS])
def test_npz_labels_that_are_no_class_numbers_name_their_array(case, array, put, words, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (32, 28, 28), dtype=np.uint8),
        "x_test": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
        "y_train": np.arange(32) % 10,
        "y_test": np.arange(8) % 10,
    }
    for index, value in put.items():
        arrays[array][index] = value
    np.savez(tmp_path / "data.npz", **arrays)
    changes = {
        "model": {"conditional": True},
        "data": {"dataset": str(tmp_path / "data.npz"), "limit": None},
        "train": {"batch_size": 8},
    }
    config = write_config(tmp_path, changes)
    result = ARRAY_RUNNERS[case]("train", "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 2
    line = one_line(result)
    assert str(tmp_path / "data.npz") in line
    for expected in words:
        assert expected in line, line


# A CSV of labels (data.labels) whose label is no integer 0, 1, 2, ...: one line naming the line.
CSV_LABELS = ["\u00b2", "-1"]  # a digit that int() refuses; a negative number
CSV_RUNNERS = console_first([(label,) for label in CSV_LABELS])


@pytest.mark.parametrize("label", CSV_LABELS)
def test_a_csv_label_that_is_no_class_number_is_one_line(label, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((28, 28), 60 * i, np.uint8)).save(folder / f"{i}.png")
    rows = ["file,label", "0.png,0", f"1.png,{label}", "2.png,1", "3.png,0"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    changes = {
        "model": {"conditional": True},
        "data": {"dataset": str(folder), "limit": None, "labels": str(tmp_path / "labels.csv")},
        "train": {"batch_size": 2},
    }
    config = write_config(tmp_path, changes)
    result = CSV_RUNNERS[label]("train", "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 2
    line = one_line(result)
    assert f"line 3 is '1.png,{label}'" in line and "an integer >= 0" in line, line


# Figure titles, in-process: each figure of a conditional run says what it shows.


def _titles(monkeypatch, vae, test, tmp_path, classes=None) -> dict[str, str]:
    """``{file name: title}`` of every figure :func:`figures.write_plots` draws."""
    titles = {}
    save = plots._save

    def recording(fig, path):
        titles[Path(path).name] = " / ".join(
            [ax.get_title() for ax in fig.axes if ax.get_title()]
            + ([fig._suptitle.get_text()] if fig._suptitle else [])
        )
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", recording)
    figures.write_plots(vae, runs.RunFolder(tmp_path / "run"), test, seed=0, classes=classes)
    return titles


SMALL = {"encoder_conv_filters": [4, 4, 4], "decoder_conv_t_filters": [4, 4, 1], "seed": 1}
# (condition levels, class names, class_samples.png's title, its rows)
TITLES = [
    ([10], None, "samples of each class, a row each: the same z ~ N(0, I) in every row", 10),
    (
        [1000],
        None,
        "samples of 20 of the 1,000 classes (evenly spaced), a row each: the same z ~ N(0, I) "
        "in every row",
        20,
    ),
]


@pytest.mark.parametrize("levels, classes, title, rows", TITLES)
def test_figure_titles_say_what_they_show(levels, classes, title, rows, monkeypatch, tmp_path):
    (x, y), _ = datasets.load("mnist", limit=64)
    test = ArrayImages(np.asarray(x), labels=np.asarray(y))
    vae = VariationalAutoencoder(conditional=True, condition_levels=levels, **SMALL)
    titles = _titles(monkeypatch, vae, test, tmp_path, classes)
    assert titles["class_samples.png"] == title
    assert titles["samples.png"] == "samples decoded from z ~ N(0, I), each class in turn"
    for name, text in titles.items():  # nothing garbled: no "z from z", no word twice in a row
        assert "z from z" not in text, (name, text)
        words = text.split()
        assert all(a != b for a, b in zip(words, words[1:], strict=False)), (name, text)
    height = Image.open(tmp_path / "run" / "plots" / "class_samples.png").size[1]
    assert height <= (0.6 * rows + 0.8) * 120 + 1  # a row of 0.6 inch per class, at 120 dpi


# The page: a conditional model's grids share one sprite sheet's bound.

# (classes, image shape, classes that get a grid, images a side of each grid)
GRIDS = [
    (10, (28, 28, 1), 10, 22),  # MNIST: 10 x 22^2 x 784 = 3.79 M values; 23^2 would be 4.15 M
    (3, (64, 64, 3), 3, 10),  # shapes_color's shapes: 3 x 10^2 x 12,288 = 3.69 M
    (10, (64, 64, 3), 10, 5),  # 10 x 5^2 x 12,288 = 3.07 M; 6^2 would be 4.42 M
    (100, (64, 64, 3), 13, 5),  # 100 colour classes: 13 at the coarsest grid, 5 x 5 (3.99 M)
    (1000, (28, 28, 1), 204, 5),  # 204 x 5^2 x 784 = 4.00 M (3,998,400); 205 would be 4.02 M
]


@pytest.mark.parametrize("classes, shape, shown, side", GRIDS)
def test_a_conditional_explorer_keeps_its_grids_within_one_sheet(classes, shape, shown, side):
    images = ArrayImages(np.random.default_rng(0).random((50, *shape), dtype=np.float32))
    explorer = explorer_module.explore(FakeVAE(3, shape, classes=classes), images, 50, grid=40)
    values = math.prod(shape)
    assert explorer.grid == side and len(explorer.grid_sheets) == shown
    assert shown * side**2 * values <= explorer_module.MAX_SHEET_VALUES
    assert explorer_module.MAX_CLASS_VALUES == explorer_module.MAX_SHEET_VALUES
    chosen = [int(name) for name in explorer.grid_names]
    assert chosen[0] == 0 and chosen[-1] == classes - 1 and len(set(chosen)) == shown
    steps = np.diff(chosen)  # evenly spaced
    assert steps.size == 0 or steps.max() - steps.min() <= 1
    # Each sheet is decoded as its class (FakeVAE: grey level class / 10, up to 1), rounded to
    # the sheets' levels: at most half a step of 255 / (levels - 1) away.
    step = 255 / (explorer_module.CLASS_GRID_LEVELS - 1)
    for value, sheet in zip(chosen, explorer.grid_sheets, strict=True):
        pixel = np.asarray(Image.open(io.BytesIO(sheet.png)))[0, 0]
        assert abs(float(np.ravel(pixel)[0]) - 255 * min(value / 10, 1)) <= step / 2 + 0.5
    data = explorer.to_json()
    assert data["gridClasses"] == classes and len(data["gridNames"]) == shown


@pytest.mark.slow
def test_a_conditional_mnist_report_stays_well_under_the_readme_bound(tmp_path):
    """The tiny conditional MNIST run of tests/test_report.py, reported with 2,000 real test
    images: under 5 MB with a fifth to spare (an unconditional page is 2.9 MB)."""
    settings = json.loads(json.dumps(TINY))
    settings["model"]["conditional"] = True
    settings["train"].update(batch_size=16, learning_rate=0.005)
    run = runs.train(Config.from_dict(settings), tmp_path / "run", verbose=0)
    _, (x_test, y_test) = datasets.load("mnist", limit=2000)
    test = ArrayImages(np.asarray(x_test)[:2000], labels=np.asarray(y_test)[:2000])
    page = write_run_report(runs.load_run_model(run), run, test, out=tmp_path / "r.html")
    data = explorer_data(page.read_text(encoding="utf-8"))
    assert len(data["x"]) == 2000 and len(data["gridSheets"]) == 10
    assert page.stat().st_size < 0.8 * README_BOUND, page.stat().st_size
