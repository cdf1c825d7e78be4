"""The installed ``vaekit`` console script, as users run it: every command a new process.

Each command runs in its own process on a run folder another process wrote, so nothing a test or
an earlier command imported can hide a fault (a class registered only by the training path once
made every saved model unloadable in a new process). This module needs nothing but an installed
vaekit (the console script beside the Python that runs the tests): CI also runs it from a wheel
installed outside the source tree (``make test-environments``).
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import VAEKIT

from vaekit import hardware

TINY = {  # 256 images, batches of 64: 4 steps an epoch; a small model (the commands are the test)
    "model": {"seed": 1, "encoder_conv_filters": [8, 8, 8], "decoder_conv_t_filters": [8, 8, 1]},
    "data": {"dataset": "mnist", "limit": 256},
    "train": {"epochs": 1, "batch_size": 64, "seed": 3},
}
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
PNG = b"\x89PNG\r\n\x1a\n"
BF16_UNAVAILABLE = hardware.bfloat16_unavailable(hardware.CpuInfo.read(), hardware.isa_cap())
VARIANTS = {  # name: --set values
    "layer": [],
    "add_loss": ["model.kl_strategy=add_loss"],
    "train_step": ["model.kl_strategy=train_step"],
    "multi_output": ["model.kl_strategy=multi_output"],
    "mixed_bfloat16": ["train.precision=mixed_bfloat16"],
}
# The default wiring runs in the default suite, mixed_bfloat16 with the slow tests, the other
# wirings (two minutes each on a 2-core AVX2 CPU; test_strategies shows they train alike) with
# the extended ones.
MARKS = {"layer": [], "mixed_bfloat16": [pytest.mark.slow]}
CHAINS = [
    pytest.param(name, marks=MARKS.get(name, [pytest.mark.slow, pytest.mark.extended]))
    for name in VARIANTS
]


def vaekit(*arguments, cwd=None, env=None, check=True):
    """Run the console script in a new process; returns the completed process."""
    result = subprocess.run(
        [VAEKIT, *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    if check:
        assert result.returncode == 0, f"vaekit {' '.join(map(str, arguments))}: {result.stderr}"
    return result


def write_config(folder: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(json.dumps(TINY))  # JSON is YAML
    return path


def read_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG


def test_the_console_script_is_the_installed_one():
    assert Path(VAEKIT).is_file(), f"no console script beside {sys.executable}"
    if os.environ.get("VAEKIT_TEST_INSTALLED"):  # set by `make test-environments`
        import vaekit

        assert "site-packages" in Path(vaekit.__file__).parts, vaekit.__file__


@pytest.mark.parametrize("variant", CHAINS)
@pytest.mark.slow
def test_train_evaluate_plot_generate_resume_each_in_a_new_process(tmp_path, variant):
    run = tmp_path / "run"
    sets = [item for setting in VARIANTS[variant] for item in ("--set", setting)]
    command = ["train", "--config", write_config(tmp_path), "--out", run, "--quiet", *sets]
    if variant == "mixed_bfloat16" and BF16_UNAVAILABLE:  # refused up front, with its reason
        refused = vaekit(*command, check=False)
        assert refused.returncode == 2 and not run.exists()
        assert refused.stderr.strip().splitlines() == [
            f"vaekit: error: train.precision: mixed_bfloat16 cannot run here: {BF16_UNAVAILABLE}"
            "; use float32 or auto, unset ONEDNN_MAX_CPU_ISA, or set TF_ENABLE_ONEDNN_OPTS=0"
        ]
        return
    trained = vaekit(*command)
    assert "Traceback" not in trained.stderr
    assert [row["epoch"] for row in read_rows(run)] == ["1"]

    evaluated = vaekit("evaluate", run, "--samples", 8, "--limit", 64, "--quiet")
    assert "IWAE" in evaluated.stdout and "negative ELBO" in evaluated.stdout
    report = json.loads((run / "evaluation.json").read_text())
    loss, bce, kl = (report["training_metrics"][key] for key in ("loss", "bce", "kl"))
    assert 0 < bce < 1 and 0 <= kl < 1  # the reference convention: per-pixel values
    assert loss == pytest.approx(bce + kl, rel=1e-5)
    nats = report["nats_per_image"]
    assert report["samples"] == 8 and report["images"] == 64
    assert 0 < nats["iwae"]["mean"] <= nats["nelbo"]["mean"] + 4 * nats["nelbo"]["standard_error"]

    for png in (run / "plots").iterdir():
        png.unlink()
    plotted = vaekit("plot", run, "--quiet")
    assert {Path(line).name for line in plotted.stdout.split()} == PLOTS
    assert all(is_png(run / "plots" / name) for name in PLOTS)

    grid = tmp_path / "samples" / "grid.png"
    vaekit("generate", run, "-n", 16, "--out", grid, "--seed", 1)
    assert is_png(grid)

    vaekit("train", "--resume", run, "--set", "train.epochs=2", "--quiet")
    assert [row["epoch"] for row in read_rows(run)] == ["1", "2"]
    # The resumed run's model.keras opens in yet another process.
    vaekit("evaluate", run, "--samples", 4, "--limit", 32, "--quiet")


@pytest.mark.slow
def test_info_names_versions_cpu_features_and_the_auto_precision():
    shown = vaekit("info").stdout
    for words in ("vaekit", "keras", "backend", "model", "features", "native bfloat16", "auto"):
        assert words in shown
    report = json.loads(vaekit("info", "--json").stdout)
    assert report["precision"]["train.precision: auto chooses"] in ("float32", "mixed_bfloat16")
    assert report["cpu"]["oneDNN ISA cap"] == os.environ.get("ONEDNN_MAX_CPU_ISA", "none")


@pytest.mark.slow
def test_datasets_lists_what_is_here_and_where():
    listed = vaekit("datasets").stdout
    lines = listed.splitlines()
    names = [line.split()[0] for line in lines[0:8:2]]
    assert names == ["mnist", "fashion_mnist", "shapes", "shapes_color"]
    mnist_folder = Path(lines[1].split("shipped with vaekit: ")[1])
    assert (mnist_folder / "train-images-idx3-ubyte.gz").is_file()  # package data installed
    assert "a folder of images" in listed
