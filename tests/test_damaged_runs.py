"""Every command against a run folder that is damaged, changed by hand, foreign or half-written.

Each case copies one finished tiny run, changes it as a user (or a crash) would, and runs one
command: the exit code, the words of its one line, and, where the command must refuse, that the
folder is left exactly as it was. The table's first case runs as the installed console script in a
new process, the others in-process (support.console_first: a new process costs seconds of
imports); the tests below the table, which load and train, run every command in a new process.
A resume must never destroy a finished model; what a run folder's files say and what its model
is must agree.
"""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from support import console_first, copy_run, ok, one_line, snapshot, train_tiny, vaekit

from vaekit.runs.metrics import read_metrics

OLD_RUN = Path(__file__).parent / "data" / "run_before_issue10"  # a finished run of vaekit ea3615b


@pytest.fixture(scope="module")
def finished(tiny_run):
    """A finished one-epoch tiny run, written by the console script (conftest's, shared: each
    test changes a copy)."""
    return tiny_run


# How a copy of the run is changed: each takes the copy's folder.
def remove_checkpoints(run):
    shutil.rmtree(run / "checkpoints")


def older_finished_run(run):
    """A finished run of an older vaekit, whose checkpoints were removed."""
    shutil.rmtree(run)
    shutil.copytree(OLD_RUN, run)


def truncate_model(run):
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 3])


def truncate_model_and_remove_checkpoints(run):
    truncate_model(run)
    remove_checkpoints(run)


def edit(old, new, name="config.yaml"):
    def change(run):
        text = (run / name).read_text()
        assert old in text, (old, text)
        (run / name).write_text(text.replace(old, new, 1))

    return change


def append_to_config(text):
    def change(run):
        with open(run / "config.yaml", "a") as handle:
            handle.write(text)

    return change


def write(name, content):
    def change(run):
        (run / name).write_text(content)

    return change


def newer_model_file(run):
    rewrite_header(run / "model.keras", lambda h: h["config"]["versions"].update(vaekit="99.0"))


def foreign_checkpoint(run):
    """The newest checkpoint is one of another run (z_dim 3), copied in."""
    (checkpoint,) = (run / "checkpoints").iterdir()
    rewrite_header(checkpoint, lambda h: h["config"]["model_config"].update(z_dim=3))


def only_config(run):
    """What a run killed in its first step leaves: its config.yaml."""
    for path in run.iterdir():
        if path.name != "config.yaml":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def rewrite_header(path, change):
    """Rewrite a .keras archive's config.json with ``change``."""
    with zipfile.ZipFile(path) as old:
        members = [(item, old.read(item.filename)) for item in old.infolist()]
    with zipfile.ZipFile(path, "w") as new:
        for item, data in members:
            if item.filename == "config.json":
                header = json.loads(data)
                change(header)
                data = json.dumps(header)
            new.writestr(item, data)


RESUME = ("train", "--resume", "RUN", "--quiet")
MORE = (*RESUME, "--set", "train.epochs=2")
EVALUATE = ("evaluate", "RUN", "--samples", "2", "--limit", "8", "--quiet")
Z_DIM = edit("z_dim: 2", "z_dim: 3")
# (name, change, command, exit code, words of the line, folder left as it was)
CASES = [
    (
        "finished, checkpoints removed: resume",
        remove_checkpoints,
        RESUME,
        2,
        ["already done 1 epoch"],
        True,
    ),
    pytest.param(
        "finished by an older vaekit, no checkpoints: resume",
        older_finished_run,
        MORE,
        2,
        ["no checkpoint", "did not record where training stood", "nothing was changed"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "finished, model.keras truncated, no checkpoints: resume",
        truncate_model_and_remove_checkpoints,
        MORE,
        2,
        ["model.keras: not a readable .keras model file", "nothing was changed"],
        True,
        marks=pytest.mark.slow,
    ),
    (
        "config.yaml z_dim edited: resume",
        Z_DIM,
        MORE,
        2,
        ["config.yaml: model.z_dim is 3", "trained with 2", "put back model.z_dim: 2"],
        True,
    ),
    pytest.param(
        "config.yaml z_dim edited: evaluate",
        Z_DIM,
        EVALUATE,
        2,
        ["config.yaml: model.z_dim is 3", "model.keras was trained with 2"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml z_dim edited: report",
        Z_DIM,
        ("report", "RUN", "--quiet"),
        2,
        ["config.yaml: model.z_dim is 3"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml z_dim edited: plot",
        Z_DIM,
        ("plot", "RUN", "--quiet"),
        2,
        ["config.yaml: model.z_dim is 3"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml z_dim edited: generate",
        Z_DIM,
        ("generate", "RUN", "-n", "4", "--out", "OUT/g.png"),
        2,
        ["config.yaml: model.z_dim is 3"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml data.limit edited: evaluate",
        edit("limit: 256", "limit: 128"),
        EVALUATE,
        2,
        ["config.yaml: data.limit is 128", "trained with 256"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml emptied: evaluate",
        write("config.yaml", ""),
        EVALUATE,
        2,
        ["config.yaml: model.encoder_conv_filters is [32, 64, 128]", "trained with [8, 8, 8]"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml with a key given twice: evaluate",
        append_to_config("model:\n  z_dim: 2\n"),
        EVALUATE,
        2,
        ["config.yaml: line", "model is given twice (first at line 1)"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "config.yaml not YAML: report",
        write("config.yaml", "model: [1, 2"),
        ("report", "RUN", "--quiet"),
        2,
        ["config.yaml: not valid YAML"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "metrics.csv damaged: report",
        edit("\n1,", "\n1,x", name="metrics.csv"),
        ("report", "RUN", "--quiet"),
        2,
        ["metrics.csv: line 2, column loss", "is not a number"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "metrics.csv damaged: resume",
        edit("\n1,", "\n1,x", name="metrics.csv"),
        MORE,
        2,
        ["metrics.csv: line 2"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "a foreign checkpoint copied in: resume",
        foreign_checkpoint,
        MORE,
        2,
        ["config.yaml: model.z_dim is 2", "ckpt-e0001-s000000.keras was trained with 3"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "model.keras truncated, no checkpoints: evaluate",
        truncate_model_and_remove_checkpoints,
        EVALUATE,
        2,
        ["model.keras: not a readable .keras model file", "no complete checkpoint"],
        True,
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "only config.yaml (killed in its first step): evaluate",
        only_config,
        EVALUATE,
        2,
        ["holds neither model.keras nor a complete checkpoint"],
        True,
        marks=pytest.mark.slow,
    ),
]


RUNNERS = console_first(CASES)


def command_line(command, run, out):
    return [str(run) if a == "RUN" else a.replace("OUT", str(out)) for a in command]


def case_name(case) -> str:
    return (case.values if hasattr(case, "values") else case)[0]


@pytest.mark.parametrize(
    ("name", "change", "command", "code", "words", "unchanged"), CASES, ids=map(case_name, CASES)
)
@pytest.mark.slow
def test_a_damaged_or_edited_run_folder_is_one_clear_line(
    finished, tmp_path, name, change, command, code, words, unchanged
):
    run = copy_run(finished, tmp_path / "run")
    change(run)
    before = snapshot(run)
    result = RUNNERS[name](*command_line(command, run, tmp_path))
    assert result.returncode == code, result.stderr
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    if unchanged:
        assert snapshot(run) == before, "the folder was changed"
    assert not list(tmp_path.glob("g.png"))


@pytest.mark.slow
def test_a_finished_run_without_checkpoints_continues_from_its_model_exactly(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    remove_checkpoints(run)
    resumed = ok(vaekit(*command_line(MORE, run, tmp_path)))
    assert "continuing from model.keras (after 1 epoch)" in resumed.stderr
    straight = copy_run(finished, tmp_path / "straight")
    # The same run continued from its last checkpoint instead: the same second epoch.
    ok(vaekit(*command_line(MORE, straight, tmp_path)))
    rows, expected = read_metrics(run / "metrics.csv"), read_metrics(straight / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("loss", "bce", "kl", "val_loss", "nelbo"):
        assert rows[1][key] == pytest.approx(expected[1][key], rel=1e-6), key


@pytest.mark.slow
def test_a_damaged_model_keras_is_replaced_by_its_checkpoint_and_rewritten_on_resume(
    finished, tmp_path
):
    run = copy_run(finished, tmp_path / "run")
    truncate_model(run)
    evaluated = ok(vaekit(*command_line(EVALUATE, run, tmp_path)))
    (warning,) = [line for line in evaluated.stderr.splitlines() if "warning" in line]
    assert "model.keras: not a readable .keras model file" in warning
    assert "using the newest checkpoint, ckpt-e0001-s000000.keras (after 1 epoch)" in warning
    report = ok(vaekit("report", run, "--quiet"))
    assert "using the newest checkpoint" in report.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "ckpt-e0001-s000000.keras, the newest checkpoint (model.keras damaged)" in page
    resumed = ok(vaekit(*command_line(RESUME, run, tmp_path)))
    assert "model.keras: damaged; writing it again from ckpt-e0001-s000000.keras" in resumed.stderr
    assert not ok(vaekit("generate", run, "-n", 4, "--out", tmp_path / "g.png")).stderr


@pytest.mark.slow
def test_a_resumable_setting_edited_in_config_yaml_applies(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    edit("epochs: 1", "epochs: 2")(run)
    ok(vaekit(*command_line(RESUME, run, tmp_path)))
    assert [row["epoch"] for row in read_metrics(run / "metrics.csv")] == [1, 2]


@pytest.mark.slow
def test_a_run_that_died_before_saving_anything_is_replaced_by_a_new_one(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    only_config(run)
    config = tmp_path / "run.yaml"
    shutil.copy(finished.parent / "run.yaml", config)
    trained = ok(vaekit("train", "--config", config, "--out", run, "--quiet"))
    assert "replacing a run that stopped before it saved anything" in trained.stderr
    assert (run / "model.keras").is_file()
    again = vaekit("train", "--config", config, "--out", run, "--quiet")
    assert again.returncode == 2 and "already holds a run" in one_line(again)


@pytest.mark.slow
def test_a_damaged_evaluation_is_named_on_the_report_not_hidden(finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    (run / "evaluation.json").write_text("{")
    reported = ok(vaekit("report", run, "--quiet"))
    assert "evaluation.json: unreadable" in reported.stderr
    assert "evaluation.json is unreadable" in (run / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.extended  # test_backends resumes runs across backends in CI
def test_a_run_from_another_backend_resumes_here_and_says_the_noise_differs(tmp_path):
    pytest.importorskip("torch", reason="the other backend of this test (pip install torch)")
    run = train_tiny(tmp_path / "run", {"model": {"kl_strategy": "train_step"}})
    torch = {"KERAS_BACKEND": "torch"}
    on_torch = ok(vaekit(*command_line(MORE, run, tmp_path), env=torch))
    assert "written on the tensorflow backend; resuming on torch" in on_torch.stderr
    ok(vaekit(*command_line(EVALUATE, run, tmp_path), env=torch))
    # A file PyTorch wrote records its optimizer as PyTorch's class; resumed on TensorFlow it
    # trains with TensorFlow's, with the same state.
    three = (*RESUME, "--set", "train.epochs=3")
    back = ok(vaekit(*command_line(three, run, tmp_path)))
    assert "written on the torch backend; resuming on tensorflow" in back.stderr
    assert [row["epoch"] for row in read_metrics(run / "metrics.csv")] == [1, 2, 3]
    ok(vaekit("report", run, "--quiet", env=torch))
