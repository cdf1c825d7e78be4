"""Interrupted or crashed training resumes where it stopped, with the same metrics."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support import CONFIG

from vaekit.cli import main
from vaekit.config import Config
from vaekit.errors import ConfigError
from vaekit.models.saving import read_model_header
from vaekit.runs.agreement import check_agreement
from vaekit.runs.checkpoints import checkpoint_position, list_checkpoints, read_state
from vaekit.runs.metrics import read_metrics
from vaekit.runs.provenance import position

# 512 images in batches of 64: 8 steps an epoch; a checkpoint every 3 steps, all of them kept;
# the reference model with 8 filters a layer (what is tested is the resume, not the model).
SETTINGS = [
    "model.encoder_conv_filters=[8,8,8]",
    "model.decoder_conv_t_filters=[8,8,1]",
    "data.limit=512",
    "train.batch_size=64",
    "train.epochs=3",
    "train.checkpoint_every_steps=3",
    "train.keep_checkpoints=100",
]
METRICS = ("loss", "bce", "kl", "val_loss", "val_bce", "val_kl")


def sets(settings):
    return [arg for setting in settings for arg in ("--set", setting)]


def assert_same_metrics(got_dir, expected_dir):
    got, expected = (
        read_metrics(got_dir / "metrics.csv"),
        read_metrics(expected_dir / "metrics.csv"),
    )
    assert [row["epoch"] for row in got] == [row["epoch"] for row in expected]
    for key in METRICS:
        np.testing.assert_allclose(
            [r[key] for r in got], [r[key] for r in expected], rtol=1e-6, err_msg=key
        )


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """An uninterrupted run that keeps every checkpoint (epoch ends and every 3 steps)."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(["train", "--config", CONFIG, "--out", str(out), "--quiet", *sets(SETTINGS)]) == 0
    return out


def crash_copy(run, tmp_path, keep_up_to):
    """A copy of ``run`` as if it had crashed right after writing checkpoint ``keep_up_to``."""
    copy = tmp_path / "crashed"
    shutil.copytree(run, copy)
    for path in list_checkpoints(copy / "checkpoints"):
        if checkpoint_position(path) > checkpoint_position(keep_up_to):
            path.unlink()
    (copy / "model.keras").unlink()
    shutil.rmtree(copy / "plots")
    return copy


@pytest.mark.slow
def test_step_checkpoints_follow_the_cadence(straight_run):
    names = [p.name for p in list_checkpoints(straight_run / "checkpoints")]
    expected = [f"ckpt-e{e:04d}-s{s:06d}.keras" for e in range(3) for s in (3, 6)]
    expected += [f"ckpt-e{e:04d}-s000000.keras" for e in (1, 2, 3)]
    assert sorted(names) == sorted(expected)
    state = read_state(straight_run / "checkpoints" / "ckpt-e0001-s000006.keras")
    assert state["epochs_done"] == 1 and state["steps"] == 6 and "loss" in state["metrics"]


@pytest.mark.parametrize(
    "checkpoint",
    [
        pytest.param("ckpt-e0000-s000003.keras", marks=pytest.mark.slow),
        "ckpt-e0001-s000006.keras",  # inside an epoch: the hardest; the others run with the slow
        pytest.param("ckpt-e0002-s000000.keras", marks=pytest.mark.slow),
    ],
)
@pytest.mark.slow
def test_resume_from_any_checkpoint_gives_the_uninterrupted_metrics(
    straight_run, tmp_path, checkpoint
):
    crashed = crash_copy(straight_run, tmp_path, checkpoint)
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    assert_same_metrics(crashed, straight_run)


@pytest.mark.slow
def test_a_corrupt_latest_checkpoint_is_reported_and_the_previous_used(
    straight_run, tmp_path, capsys
):
    crashed = crash_copy(straight_run, tmp_path, "ckpt-e0001-s000006.keras")
    latest = crashed / "checkpoints" / "ckpt-e0001-s000006.keras"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # torn write
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    assert "skipping damaged checkpoint" in capsys.readouterr().err
    assert_same_metrics(crashed, straight_run)


def test_when_no_checkpoint_loads_resume_stops_instead_of_starting_over(
    straight_run, tmp_path, capsys
):
    crashed = crash_copy(straight_run, tmp_path, "ckpt-e0000-s000006.keras")
    torn = {}
    for path in list_checkpoints(crashed / "checkpoints"):
        path.write_bytes(path.read_bytes()[:1000])
        torn[path] = path.read_bytes()
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        "none of the 2 checkpoints loads (see the warnings above); move them "
        "away to train again from epoch 1"
    )
    assert {p: p.read_bytes() for p in torn} == torn  # nothing overwritten


def test_the_training_state_is_kept_beside_the_model_not_in_its_config(straight_run):
    checkpoint = straight_run / "checkpoints" / "ckpt-e0001-s000006.keras"
    for path, where in [(checkpoint, (1, 6)), (straight_run / "model.keras", (3, 0))]:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read("config.json"))
            beside = json.loads(archive.read("training_state.json"))
        assert header["config"].get("training_state") is None  # nothing set on the model
        assert (beside["epochs_done"], beside["steps"]) == where
        assert beside["config"]["train"]["epochs"] == 3
        assert read_state(path) == beside
    assert "loss" in read_state(checkpoint)["metrics"]


STATE = "training_state.json"


def as_written_before_issue_28(path):
    """Rewrite a model file as vaekit wrote it before the training state moved beside the model:
    inside the model's config, with no ``training_state.json``."""
    with zipfile.ZipFile(path) as old:
        members = [(item, old.read(item.filename)) for item in old.infolist()]
    state = json.loads(next(data for item, data in members if item.filename == STATE))
    with zipfile.ZipFile(path, "w") as new:
        for item, data in members:
            if item.filename == "config.json":
                header = json.loads(data)
                header["config"]["training_state"] = state
                data = json.dumps(header)
            if item.filename != STATE:
                new.writestr(item, data)


def test_model_files_written_before_the_state_moved_beside_the_model_read_alike(
    straight_run, tmp_path
):
    old = tmp_path / "old"
    shutil.copytree(straight_run, old)
    checkpoint = Path("checkpoints") / "ckpt-e0001-s000006.keras"
    for name in ("model.keras", checkpoint):
        as_written_before_issue_28(old / name)
        assert read_state(old / name) == read_state(straight_run / name)
    for run in (old, straight_run):  # where model.keras stands, from its training state
        assert position(run / "model.keras", run) == {
            "file": "model.keras",
            "epochs": 3,
            "steps": 0,
        }
    config = Config.load(old / "config.yaml")
    header = read_model_header(old / checkpoint)
    check_agreement(old / "config.yaml", config, header, old / checkpoint)
    config.data.limit = 256  # recorded in the run's config inside the training state alone
    with pytest.raises(ConfigError, match=r"data\.limit is 256, but .* trained with 512"):
        check_agreement(old / "config.yaml", config, header, old / checkpoint)


@pytest.mark.slow
def test_a_run_written_before_the_state_moved_beside_the_model_resumes_exactly(
    straight_run, tmp_path
):
    crashed = crash_copy(straight_run, tmp_path, "ckpt-e0002-s000006.keras")
    for path in list_checkpoints(crashed / "checkpoints"):
        as_written_before_issue_28(path)
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    assert_same_metrics(crashed, straight_run)


@pytest.mark.slow
def test_keep_prunes_old_checkpoints(tmp_path):
    out = tmp_path / "run"
    settings = [
        "data.limit=256",
        "train.batch_size=64",
        "train.epochs=2",
        "train.checkpoint_every_steps=1",
        "train.keep_checkpoints=2",
    ]
    assert main(["train", "--config", CONFIG, "--out", str(out), "--quiet", *sets(settings)]) == 0
    names = [p.name for p in list_checkpoints(out / "checkpoints")]
    assert names == ["ckpt-e0001-s000003.keras", "ckpt-e0002-s000000.keras"]


@pytest.mark.slow
def test_nan_loss_stops_and_leaves_the_last_good_files_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    settings = ["data.limit=256", "train.batch_size=64", "train.epochs=1"]
    assert main(["train", "--config", CONFIG, "--out", str(out), "--quiet", *sets(settings)]) == 0
    before = {
        p: p.read_bytes()
        for p in [*out.glob("checkpoints/*"), out / "model.keras", out / "metrics.csv"]
    }
    capsys.readouterr()
    code = main(
        [
            "train",
            "--resume",
            str(out),
            "--quiet",
            "--set",
            "train.epochs=3",
            "--set",
            "train.learning_rate=1e6",
        ]
    )
    error = capsys.readouterr().err
    assert code == 3
    assert "training diverged" in error and "epoch 2, step" in error
    assert "learning_rate" in error and "kl_factor" in error
    assert {p: p.read_bytes() for p in before} == before
    assert list(out.glob("checkpoints/*")) == list(before)[:1]


def start_training(out, settings, env=None):
    command = [
        sys.executable,
        "-m",
        "vaekit.cli",
        "train",
        "--config",
        CONFIG,
        "--out",
        str(out),
        "--quiet",
        *sets(settings),
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def resume_command(run):
    return [sys.executable, "-m", "vaekit.cli", "train", "--resume", str(run), "--quiet"]


def wait_for_checkpoint(run, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not list_checkpoints(run / "checkpoints"):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("signal_number", "exit_code"),
    [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.extended)],
)
@pytest.mark.slow
def test_sigterm_and_sigint_checkpoint_the_step_and_exit_with_the_resume_command(
    straight_run, tmp_path, signal_number, exit_code
):
    run = tmp_path / "run"
    process = start_training(run, SETTINGS)
    wait_for_checkpoint(run, process)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("training finished before the signal arrived")  # a very fast machine
    assert process.returncode == exit_code, stderr
    assert f"resume with: vaekit train --resume {run}" in stderr
    assert "Traceback" not in stderr
    result = subprocess.run(resume_command(run), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert_same_metrics(run, straight_run)


def wrote_a_checkpoint(run, process, since, timeout=300) -> bool:
    """Wait until ``process`` has written a checkpoint after position ``since``; False if it
    finished first."""
    deadline = time.monotonic() + timeout
    while True:
        newest = list_checkpoints(run / "checkpoints")
        if newest and checkpoint_position(newest[-1]) > since:
            return True
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "no new checkpoint appeared"
        time.sleep(0.02)


@pytest.mark.slow
def test_repeated_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Three SIGKILLs at seeded random moments, a resume after each, then the run completes.

    Each process is killed at a random moment within a second after it has written a checkpoint
    of its own: while it trains or writes its next checkpoint, not while it imports (which takes
    most of a process's life when the model is small, and loses nothing)."""
    # 32 steps an epoch, 5 epochs, a checkpoint every 5 steps.
    settings = [*SETTINGS, "data.limit=2048", "train.epochs=5", "train.checkpoint_every_steps=5"]
    reference = tmp_path / "reference"
    assert (
        main(["train", "--config", CONFIG, "--out", str(reference), "--quiet", *sets(settings)])
        == 0
    )
    rng = np.random.default_rng(2026)
    run = tmp_path / "run"
    process = start_training(run, settings)
    kills, positions = 0, []
    while kills < 3:
        if not wrote_a_checkpoint(run, process, since=positions[-1] if positions else (0, 0)):
            break  # finished before this kill
        try:
            process.wait(timeout=float(rng.uniform(0.0, 1.0)))
            break  # finished before this kill
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL: no handler, no cleanup
            process.wait()
            kills += 1
        for path in list_checkpoints(run / "checkpoints"):  # every checkpoint on disk loads
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None
            read_state(path)
        newest = list_checkpoints(run / "checkpoints")
        positions.append(checkpoint_position(newest[-1]) if newest else (0, 0))
        assert positions == sorted(positions)  # the epoch counter never goes backwards
        if (run / "model.keras").exists():
            break  # the kill came after the run had finished
        if (run / "config.yaml").exists():
            process = subprocess.Popen(
                resume_command(run), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        else:  # killed before the run folder existed: start it again
            process = start_training(run, settings)
    assert process.wait(timeout=300) == 0, process.communicate()
    assert kills >= 1
    assert_same_metrics(run, reference)
    print(f"survived {kills} kills; newest checkpoint after each: {positions}")
