"""What a person reads: one line that names the field or file and says what would do, in words
(no Python exception names, no "1 bad files"), on one line whatever a file is called; config
files that say a key twice; output files in the format and place asked for; and files that
others can read. Each table's first case runs as the installed console script in a new process,
the others in-process (support.console_first); the other tests run every command in a new process.
"""

import stat
from pathlib import Path

import pytest
from PIL import Image
from support import CONFIG, console_first, copy_run, in_process, ok, one_line, vaekit, write_config

from vaekit.datasets import folder


def images(root: Path, classes=("cat", "dog"), count=4) -> Path:
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("L", (28, 28), 40 * i).save(root / name / f"{i}.png")
    return root


def all_bad(tmp):
    root = tmp / "bad"
    root.mkdir()
    (root / "a.png").write_text("not an image")
    (root / "b.jpg").write_bytes(b"")
    (root / "c.png").write_text("nor this")
    return [f"data.dataset={root}"]


def one_bad(tmp, name="broken.png"):
    root = images(tmp / "images")
    (root / "cat" / name).write_text("not an image")
    return [f"data.dataset={root}", "data.on_bad_file=error"]


def one_image_file(tmp):
    path = tmp / "x.png"
    Image.new("L", (28, 28)).save(path)
    return [f"data.dataset={path}"]


# (name, --set values made in a tmp folder, words of the one line)
CASES = [
    pytest.param(
        "a size the strides cannot halve",
        lambda tmp: ["model.input_dim=[27,27,1]"],
        ["model.input_dim: 27 x 27 must be divisible by 4", "encoder_conv_strides [1, 2, 2]",
         "sizes that fit: 24, 28"],

        marks=pytest.mark.slow,
    ),
    pytest.param(
        "strides that do not multiply back",
        lambda tmp: ["model.decoder_conv_t_strides=[2,2,2]"],
        ["model.decoder_conv_t_strides: [2, 2, 2] multiply to 8",
         "encoder_conv_strides [1, 2, 2] to 4"],

        marks=pytest.mark.slow,
    ),
    pytest.param(
        "one image file as the data set",
        one_image_file,
        ["x.png: one image file; data.dataset takes a folder of images"],

        marks=pytest.mark.slow,
    ),
    (
        "a folder where every file is bad",
        all_bad,
        ["bad: none of its 3 image files is readable", "not an image file Pillow can read: 2",
         "empty file: 1", "(first: a.png: not an image file Pillow can read)"],
    ),
    pytest.param(
        "one bad file",
        one_bad,
        ["broken.png: not an image file Pillow can read; 1 bad file in all"],

        marks=pytest.mark.slow,
    ),
    pytest.param(
        "a bad file whose name holds a newline",
        lambda tmp: one_bad(tmp, "new\nline.png"),
        ["cat/new\\nline.png: not an image file Pillow can read"],

        marks=pytest.mark.slow,
    ),
]  # fmt: skip


def case_name(case) -> str:
    return (case.values if hasattr(case, "values") else case)[0]


RUNNERS = console_first(CASES)


@pytest.mark.parametrize(("name", "settings", "words"), CASES, ids=map(case_name, CASES))
def test_a_mistake_is_one_line_in_words(tmp_path, name, settings, words):
    out = tmp_path / "run"
    sets = [item for setting in settings(tmp_path) for item in ("--set", setting)]
    result = RUNNERS[name]("train", "--config", CONFIG, "--out", out, "--quiet", *sets)
    assert result.returncode == 2
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    assert "Error" not in line and "bad files in all" not in line.replace("1 bad file", "")
    assert not out.exists()


@pytest.mark.slow
def test_an_empty_class_folder_is_named_not_dropped(tmp_path):
    root = images(tmp_path / "images")
    (root / "bird").mkdir()
    # train.batch_size larger than the 8 images: the run stops after the folder is read.
    config = write_config(tmp_path, {"data": {"dataset": str(root)}, "train": {"batch_size": 9}})
    result = vaekit("train", "--config", config, "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 2
    (warning,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "1 class folder without image files left out (bird); the classes are cat, dog" in warning


def test_bad_files_txt_holds_one_line_per_file_whatever_its_name(tmp_path):
    manifest = folder.Manifest(str(tmp_path), (8, 8, 1), "resize", None)
    manifest.bad = [["a\nb.png", "empty file"], ["c\td.png", "truncated"], ["e\\nf.png", "x"]]
    manifest.write_bad_files(tmp_path / "bad_files.txt")
    lines = (tmp_path / "bad_files.txt").read_text().splitlines()
    assert lines == ["a\\nb.png\tempty file", "c\\td.png\ttruncated", "e\\\\nf.png\tx"]


# Config files.
@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("model:\n  z_dim: 2\n  kl_factor: 1e-3\n  z_dim: 5\n",
                     "line 4: z_dim is given twice (first at line 2)", marks=pytest.mark.slow),
        ("model:\n  z_dim: 2\ntrain:\n  epochs: 1\nmodel:\n  kl_factor: 1e-3\n",
         "line 5: model is given twice (first at line 1)"),
        pytest.param("train: {epochs: 1, epochs: 2}\n", "line 1: epochs is given twice",
                     marks=pytest.mark.slow),
    ],
    ids=["a key", "a section", "a flow mapping"],
)  # fmt: skip
@pytest.mark.slow
def test_a_config_that_says_a_key_twice_is_refused_naming_the_line(request, tmp_path, text, words):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    runner = vaekit if request.node.callspec.id == "a key" else in_process  # the first case
    result = runner("train", "--config", path, "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 2
    assert f"twice.yaml: {words}" in one_line(result)
    assert not (tmp_path / "run").exists()


# Output files, and the files of a run folder.
@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """A tiny run trained under umask 027: its files must be 0640, not mkstemp's 0600."""
    out = tmp_path_factory.mktemp("shared") / "run"
    config = write_config(out.parent)
    ok(vaekit("train", "--config", config, "--out", out, "--quiet", umask=0o027))
    return out


@pytest.mark.slow
def test_run_files_get_the_mode_open_would_give(shared_run, tmp_path):
    files = [path for path in shared_run.rglob("*") if path.is_file()]
    assert {"config.yaml", "metrics.csv", "model.keras", "report.html", "loss.png"} <= {
        path.name for path in files
    }
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    other = copy_run(shared_run, tmp_path / "other")
    ok(vaekit("compare", shared_run, other, "--out", tmp_path / "c.html", umask=0o022))
    assert stat.S_IMODE((tmp_path / "c.html").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("name", "magic"),
    [
        ("g.png", b"\x89PNG"),
        ("g.jpg", b"\xff\xd8\xff"),
        pytest.param("g.pdf", b"%PDF", marks=pytest.mark.slow),
        pytest.param("g.svg", b"<?xml", marks=pytest.mark.slow),
    ],
)
@pytest.mark.slow
def test_generate_writes_the_format_its_file_name_says(shared_run, tmp_path, name, magic):
    runner = vaekit if name == "g.png" else in_process  # the first case in a new process
    ok(runner("generate", shared_run, "-n", 4, "--out", tmp_path / name))
    assert (tmp_path / name).read_bytes().startswith(magic)


@pytest.mark.parametrize(
    ("out", "words"),
    [
        (lambda tmp: tmp, "is a folder; give a file name ending in .png, .jpg"),
        pytest.param(
            lambda tmp: tmp / "g.bmpx",
            ".bmpx is not a format it writes; use .png",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            lambda tmp: tmp / "samples", "no file extension; use .png", marks=pytest.mark.slow
        ),
    ],
    ids=["a folder", "an unknown format", "no extension"],
)
def test_generate_onto_a_folder_or_an_unknown_format_is_a_mistake(
    request, shared_run, tmp_path, out, words
):
    runner = vaekit if request.node.callspec.id == "a folder" else in_process  # the first case
    result = runner("generate", shared_run, "-n", 4, "--out", out(tmp_path))
    assert result.returncode == 2
    assert words in one_line(result)


@pytest.mark.slow
def test_an_evaluation_out_that_is_a_folder_is_a_mistake(shared_run, tmp_path):
    result = vaekit("evaluate", shared_run, "--samples", 2, "--out", tmp_path)
    assert result.returncode == 2
    assert "--out" in one_line(result) and "is a folder" in one_line(result)
