"""The vaekit command end to end on a small MNIST subset, and its errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import CONFIG

from vaekit import VariationalAutoencoder
from vaekit.cli import main
from vaekit.config import Config
from vaekit.runs.metrics import COLUMNS, DIVERGENCE_COLUMNS, read_metrics

# A small model: these tests are of the commands, which run the same on any model.
SMALL_MODEL = ["--set", "model.encoder_conv_filters=[8,8,8]"]
SMALL_MODEL += ["--set", "model.decoder_conv_t_filters=[8,8,1]"]
SMALL = ["--set", "data.limit=512", "--set", "train.epochs=1", "--quiet", *SMALL_MODEL]
PLOTS = {
    "latent_space.png",
    "reconstructions.png",
    "samples.png",
    "manifold.png",
    "loss.png",
    "kl_per_dimension.png",
    "interpolations.png",
    "nelbo.png",
}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One real 1-epoch run on 512 images, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--config", CONFIG, "--out", str(out), *SMALL]) == 0
    return out


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_writes_a_complete_run_folder(trained_run):
    config = Config.load(trained_run / "config.yaml")
    assert config.data.limit == 512 and config.train.epochs == 1
    settings = [item for item in SMALL if item not in ("--set", "--quiet")]
    assert config == Config.load(CONFIG, settings)  # fully resolved
    assert yaml.safe_load((trained_run / "config.yaml").read_text())["model"]["z_dim"] == 2
    vae = VariationalAutoencoder.load(trained_run / "model.keras")
    assert vae.config == config.model
    assert [p.name for p in (trained_run / "checkpoints").iterdir()] == ["ckpt-e0001-s000000.keras"]
    rows = read_metrics(trained_run / "metrics.csv")
    assert len(rows) == 1 and set(rows[0]) == set(COLUMNS)
    logged = [key for key in COLUMNS if key not in DIVERGENCE_COLUMNS]  # those: other divergences
    assert rows[0]["epoch"] == 1 and all(rows[0][key] is not None for key in logged)
    assert all(rows[0][key] is None for key in DIVERGENCE_COLUMNS)
    assert rows[0]["loss"] == pytest.approx(rows[0]["bce"] + rows[0]["kl"], rel=1e-5)
    assert {p.name for p in (trained_run / "plots").iterdir()} == PLOTS
    assert all(is_png(p) for p in (trained_run / "plots").iterdir())
    assert not list(trained_run.rglob(".*tmp*"))  # no temporary files left


def test_resume_continues_at_the_next_epoch_with_optimizer_state(trained_run, tmp_path):
    run = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(trained_run), str(run)], check=True)
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--quiet"]) == 0
    rows = read_metrics(run / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert rows[0] == read_metrics(trained_run / "metrics.csv")[0]  # history kept
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["ckpt-e0001-s000000.keras", "ckpt-e0002-s000000.keras"]
    vae = VariationalAutoencoder.load(run / "model.keras")
    assert int(vae.model.optimizer.iterations.numpy()) == 2 * 4  # 512 images / 128 per step
    assert Config.load(run / "config.yaml").train.epochs == 2


# Exact resume is also checked by test_faults (SIGTERM) and test_folder (mid-epoch).
@pytest.mark.slow
def test_resume_gives_the_same_metrics_as_an_uninterrupted_run(tmp_path):
    small = ["--set", "data.limit=256", "--set", "train.batch_size=64", "--quiet", *SMALL_MODEL]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert (
        main(
            ["train", "--config", CONFIG, "--out", str(straight), "--set", "train.epochs=3", *small]
        )
        == 0
    )
    assert (
        main(["train", "--config", CONFIG, "--out", str(split), "--set", "train.epochs=1", *small])
        == 0
    )
    assert main(["train", "--resume", str(split), "--set", "train.epochs=3", "--quiet"]) == 0
    expected, got = read_metrics(straight / "metrics.csv"), read_metrics(split / "metrics.csv")
    assert len(got) == len(expected) == 3
    for key in ("loss", "bce", "kl", "val_loss", "val_bce", "val_kl"):
        np.testing.assert_allclose(
            [r[key] for r in got], [r[key] for r in expected], rtol=1e-6, err_msg=key
        )


def test_evaluate_plot_and_generate(trained_run, tmp_path, capsys):
    assert main(["evaluate", str(trained_run), "--samples", "8", "--limit", "64", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "loss" in printed and "bce" in printed and "kl" in printed and "IWAE" in printed
    (trained_run / "plots" / "samples.png").unlink()
    assert main(["plot", str(trained_run)]) == 0
    assert is_png(trained_run / "plots" / "samples.png")
    out = tmp_path / "grid.png"
    assert main(["generate", str(trained_run), "-n", "16", "--out", str(out), "--seed", "1"]) == 0
    assert is_png(out)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["train", "--config", "missing.yaml"], "missing.yaml: config file not found"),
        (["train", "--config", CONFIG, "--set", "model.zdim=3"], "did you mean 'z_dim'"),
        (
            [
                "train",
                "--config",
                CONFIG,
                "--set",
                "train.batch_size=1000",
                "--set",
                "data.limit=100",
            ],
            "train.batch_size: got 1000",
        ),
        (
            ["train", "--config", CONFIG, "--set", "model.decoder_conv_t_strides=[2,2,2]"],
            "the decoder gives (56, 56, 1)",
        ),
        (["train", "--config", CONFIG, "--set", "data.dataset=nowhere.npz"], "nowhere.npz"),
        (["train", "--resume", "no_such_run"], "not a vaekit run folder"),
        (["evaluate", "no_such_run"], "not a vaekit run folder"),
    ],
)
def test_user_mistakes_exit_2_with_one_line_and_no_run_folder(tmp_path, capsys, arguments, words):
    out = tmp_path / "run"
    extra = ["--out", str(out)] if "--config" in arguments else []
    assert main(arguments + extra) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not out.exists()


def test_run_folder_mistakes(trained_run, capsys):
    assert main(["train", "--config", CONFIG, "--out", str(trained_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", str(trained_run), "--quiet"]) == 2
    assert "already done 1 epoch;" in capsys.readouterr().err
    assert main(["train", "--resume", str(trained_run), "--set", "model.z_dim=3"]) == 2
    assert "a resumed run keeps its model.z_dim (2)" in capsys.readouterr().err


def test_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vaekit.cli", "train", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"vaekit: error: {tmp_path / 'nope.yaml'}: config file not found"
    ]
