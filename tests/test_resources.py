"""Every resource a setting can exhaust: memory estimated before the work, real out-of-memory
errors as one line with their own exit code, huge images, and long work that says how long.

Commands run as the installed console script in new processes (of a table of refusals, the
first case; the others in-process, support.console_first); the estimates are also checked
against Keras's own count of the model's parameters.
"""

import io
import os
import resource
import struct
import subprocess
import threading
import zipfile
import zlib

import numpy as np
import pytest
from support import (
    CONFIG,
    VAEKIT,
    console_first,
    ok,
    one_line,
    small_disk,
    vaekit,
    write_config,
)

from vaekit import VariationalAutoencoder
from vaekit.config import ModelConfig
from vaekit.resources import available_memory, training_memory

GB = 2**30


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"use_batch_norm": True, "use_dropout": True},
        {"encoder_dense_units": [16, 8], "z_dim": 5, "kl_strategy": "train_step"},
        {"likelihood": "gaussian", "gaussian_sigma": "learned"},
        {
            "input_dim": (64, 64, 3),
            "encoder_conv_filters": [32, 64, 64, 64],
            "encoder_conv_kernel_size": [4, 4, 4, 4],
            "encoder_conv_strides": [2, 2, 2, 2],
            "decoder_conv_t_filters": [64, 64, 32, 3],
            "decoder_conv_t_kernel_size": [4, 4, 4, 4],
            "decoder_conv_t_strides": [2, 2, 2, 2],
            "use_batch_norm": True,
        },
    ],
)
def test_the_parameter_count_is_keras_own(settings):
    vae = VariationalAutoencoder(**settings)
    estimate = training_memory(vae.config, 128, learned_sigma=vae.objective.learned_sigma)
    assert estimate.parameters == vae.model.count_params()


def test_the_estimate_names_what_makes_a_model_large():
    wide = training_memory(ModelConfig(z_dim=100_000), batch_size=128)
    assert wide.largest.setting == "model.z_dim" and wide.dominant().startswith("model.z_dim (")
    assert wide.weights_bytes > 4 * wide.parameters * 4, "weights, gradients, Adam's m and v"
    batch = training_memory(ModelConfig(), batch_size=60_000)
    assert batch.dominant().startswith("train.batch_size (activations")
    # Activations grow with the batch, weights do not.
    small = training_memory(ModelConfig(), batch_size=60)
    assert batch.activation_bytes == 1000 * small.activation_bytes
    assert batch.weights_bytes == small.weights_bytes


def test_available_memory_reads_the_system_and_the_process_limits(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nMemAvailable:    2048 kB\n")
    available = available_memory(meminfo)
    assert available.bytes <= 2048 * 1024 and available.limit


# Memory a setting would exhaust, refused before anything is built or written.
TOO_LARGE = [
    ("model.z_dim", ["model.z_dim=100000"], ["model.z_dim: training needs about", "GB"]),
    pytest.param(
        "train.batch_size",
        ["train.batch_size=60000"],
        ["train.batch_size: training needs about"],
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.parametrize(("name", "settings", "words"), TOO_LARGE, ids=["z_dim", "batch_size"])
@pytest.mark.slow
def test_a_model_or_batch_that_cannot_fit_is_refused_at_once(tmp_path, name, settings, words):
    out = tmp_path / "run"
    sets = [item for setting in settings for item in ("--set", setting)]
    runner = console_first(TOO_LARGE)[name]
    result = runner("train", "--config", CONFIG, "--out", out, "--quiet", *sets)
    assert result.returncode == 2
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    assert "more than the" in line and "free here" in line
    assert "train.check_memory=false" in line  # how to try anyway
    assert not out.exists()


@pytest.mark.slow
def test_a_process_limit_counts_as_the_memory_there_is(tmp_path):
    out = tmp_path / "run"
    result = vaekit(
        "train", "--config", CONFIG, "--out", out, "--quiet", "--set", "model.z_dim=20000",
        limits=[(resource.RLIMIT_AS, 6 * GB)],
    )  # fmt: skip
    assert result.returncode == 2
    assert "(limited by ulimit -v)" in one_line(result) and not out.exists()


def huge_npz(path, shape=(200_000, 1000, 1000)):
    """An .npz whose x_train says it holds 186 GiB of uint8 (its data is not there)."""
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", npy)
        buffer = io.BytesIO()
        np.save(buffer, np.zeros((2, 28, 28), np.uint8))
        archive.writestr("x_test.npy", buffer.getvalue())
    return path


def test_a_real_memory_error_is_one_line_and_exit_code_5(tmp_path):
    data = huge_npz(tmp_path / "huge.npz")
    config = write_config(tmp_path, {"data": {"dataset": str(data)}})
    out = tmp_path / "run"
    result = vaekit(
        "train", "--config", config, "--out", out, "--quiet",
        limits=[(resource.RLIMIT_AS, 16 * GB)],  # the same on any machine
    )  # fmt: skip
    assert result.returncode == 5
    line = one_line(result)
    assert line.startswith("vaekit: error: out of memory in vaekit train (")
    assert "Error" not in line and not out.exists()


@pytest.mark.slow
def test_decoding_more_points_than_fit_is_refused_naming_the_flag(tiny_run):
    result = vaekit("evaluate", tiny_run, "--max-points", 10**10, "--quiet")
    assert result.returncode == 2
    assert one_line(result).startswith("vaekit: error: --max-points: decoding 10,000,000,000")


@pytest.mark.slow
def test_a_long_evaluation_says_at_once_how_long_it_will_take(tiny_run):
    # 10 million samples of each image: days of work. Progress and an estimate of the time come
    # within its first seconds; the test stops it there.
    process = subprocess.Popen(
        [VAEKIT, "evaluate", str(tiny_run), "--samples", "10000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the progress bar (stdout) and the estimate (stderr) in order
        text=True,
    )
    seen = []
    stop = threading.Timer(300, process.kill)  # a command that never says: the test fails
    stop.start()
    try:
        for line in process.stdout:
            seen.append(line)
            if line.startswith("about "):
                break
    finally:
        stop.cancel()
        process.kill()
        process.wait()
    text = "".join(seen)
    assert "evaluating 256 images x K = 10,000,000 samples: 2,560,000,000 latent points" in text
    assert "/2560000000" in text  # Keras's progress bar, in latent points, before the estimate
    estimate = seen[-1]
    assert estimate.startswith("about ") and "latent points a second on this machine" in estimate


@pytest.mark.slow
def test_generate_refuses_more_images_than_a_picture_holds(tiny_run, tmp_path):
    result = vaekit("generate", tiny_run, "-n", 20000, "--out", tmp_path / "g.png")
    assert result.returncode == 2
    assert "-n: got 20000, expected an integer from 1 to 10,000" in one_line(result)


@pytest.mark.slow
def test_a_report_grid_larger_than_the_page_holds_says_what_it_draws(tiny_run, tmp_path):
    result = ok(vaekit("report", tiny_run, "--grid", 2000, "--out", tmp_path / "r.html", "--quiet"))
    assert "--grid 2,000: decoding a 71 x 71 grid, the most the page holds" in result.stderr


def png_header(path, width, height):
    """A PNG that says it is ``width`` x ``height`` (its pixel data is not there)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    size = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", size) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        (None, "huge.png: 400,000,000 pixels, more than data.max_image_pixels (89,478,485)"),
        pytest.param(
            100,
            "none of its 5 image files is readable: 28 x 28 pixels, more than data.",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_huge_image_is_a_bad_file_under_a_limit_that_is_a_setting(tmp_path, limit, words):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.new("L", (28, 28), 60 * i).save(folder / f"{i}.png")
    png_header(folder / "huge.png", 20_000, 20_000)
    changes = {"dataset": str(folder), "on_bad_file": "error"}
    if limit is not None:
        changes["max_image_pixels"] = limit
    config = write_config(tmp_path, {"data": changes})
    result = vaekit("train", "--config", config, "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 2
    assert words in one_line(result)  # refused from its header: its pixels are not in the file


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_checkpoints_that_cannot_fit_on_the_disk_are_refused_before_training(tmp_path):
    with small_disk(tmp_path / "disk", 8) as disk:
        out = disk / "run"
        # The reference model's checkpoint is 2.75 MB: five of them, and model.keras, not 8 MB.
        sets = ["--set", "data.limit=256", "--set", "train.batch_size=64"]
        sets += ["--set", "train.epochs=5", "--set", "train.keep_checkpoints=5"]
        result = vaekit("train", "--config", CONFIG, "--out", out, "--quiet", *sets)
        assert result.returncode == 2
        line = one_line(result)
        assert line.startswith("vaekit: error: train.keep_checkpoints: keeping 5 checkpoints")
        assert "more than the" in line and not out.exists()
