"""A run folder has one writer at a time, and every write that fails is one clear line.

Each command runs as the installed console script in its own process: a second writer on a folder
in use, an ``--out`` that cannot be created, and a disk that fills during a run.
"""

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from support import CONFIG, VAEKIT, in_process, small_disk

from vaekit.runs.checkpoints import list_checkpoints
from vaekit.runs.lock import LOCK_NAME
from vaekit.runs.metrics import read_metrics

# 256 images in batches of 64: 4 steps an epoch.
SMALL = ["data.limit=256", "train.batch_size=64", "train.keep_checkpoints=5"]
METRICS = ("loss", "bce", "kl", "val_loss", "val_bce", "val_kl")


def command(*arguments, settings=()):
    sets = [item for setting in settings for item in ("--set", setting)]
    quiet = ["--quiet"] if arguments[0] == "train" else []
    return [VAEKIT, *map(str, arguments), *quiet, *sets]


def run(*arguments, settings=(), **kwargs):
    return subprocess.run(
        command(*arguments, settings=settings), capture_output=True, text=True, **kwargs
    )


def train(out, epochs, **kwargs):
    return run(
        "train",
        "--config",
        CONFIG,
        "--out",
        out,
        settings=[*SMALL, f"train.epochs={epochs}"],
        **kwargs,
    )


def resume(out, epochs, **kwargs):
    return run("train", "--resume", out, settings=[f"train.epochs={epochs}"], **kwargs)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted two-epoch run to compare interrupted ones with."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert train(out, 2).returncode == 0
    return read_metrics(out / "metrics.csv")


def assert_metrics_equal(out, expected):
    got = read_metrics(out / "metrics.csv")
    assert [row["epoch"] for row in got] == [row["epoch"] for row in expected]
    for key in METRICS:
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in expected], rtol=1e-6)


@pytest.mark.slow  # refusal itself is lock.py's doctest; the take-over of a killed one is here
def test_a_second_writer_is_refused_and_a_killed_writers_lock_is_taken_over(tmp_path, reference):
    out = tmp_path / "run"
    first = subprocess.Popen(
        command("train", "--config", CONFIG, "--out", out, settings=[*SMALL, "train.epochs=2"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.yaml").exists():  # written under the lock, before training
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # hold it inside its run, lock taken
        for second in (resume(out, 3), run("plot", out)):
            assert second.returncode == 2
            line = one_line(second)
            assert f"{out}: in use by process {first.pid} (vaekit train, since" in line
        assert not (out / "plots").exists() or not any((out / "plots").iterdir())
        first.kill()  # SIGKILL, even while stopped: no cleanup runs
        first.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            first.kill()
    assert (out / LOCK_NAME).exists()  # left behind by the killed process
    taken = resume(out, 2)
    assert taken.returncode == 0, taken.stderr
    assert f"taking over the lock left by process {first.pid}" in taken.stderr
    assert not (out / LOCK_NAME).exists()  # removed on release
    assert_metrics_equal(out, reference)  # one writer's epochs, each once


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda tmp: tmp / "a_file" / "run", "cannot create the run folder (Not a directory)"),
        (lambda tmp: tmp / "a_file", "cannot create the run folder (File exists)"),
    ],
)
@pytest.mark.slow
def test_an_out_that_cannot_be_created_is_one_line_before_training(tmp_path, make, words):
    (tmp_path / "a_file").write_text("not a folder")
    out = make(tmp_path)
    if "File exists" in words:  # the second case in-process (support.in_process): the same path
        sets = [item for setting in [*SMALL, "train.epochs=1"] for item in ("--set", setting)]
        result = in_process("train", "--config", CONFIG, "--out", out, "--quiet", *sets)
    else:
        result = train(out, 1)
    assert result.returncode == 2
    assert one_line(result) == f"vaekit: error: {out}: {words}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def limit_file_size(size):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.slow
@pytest.mark.extended  # the full disk's test, in CI, takes the same path
def test_a_file_size_limit_mid_run_stops_with_exit_4_and_the_run_resumes(tmp_path, reference):
    out = tmp_path / "run"
    assert train(out, 1).returncode == 0
    kept = {p: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
    # A checkpoint is about 1.2 MB; metrics.csv and the rest stay far below 100 kB.
    stopped = resume(out, 2, preexec_fn=limit_file_size(100_000))
    assert stopped.returncode == 4, stopped.stderr
    line = one_line(stopped)
    checkpoint = out / "checkpoints" / "ckpt-e0002-s000000.keras"
    assert line.startswith(f"vaekit: error: {checkpoint}: cannot write (File too large); ")
    assert f"newest complete checkpoint is {next(iter(kept))}" in line
    assert line.endswith(f"continue with: vaekit train --resume {out}")
    assert {p: p.read_bytes() for p in list_checkpoints(out / "checkpoints")} == kept
    assert not list(out.rglob(".*tmp*")) and not (out / LOCK_NAME).exists()
    finished = resume(out, 2)
    assert finished.returncode == 0, finished.stderr
    assert_metrics_equal(out, reference)


@pytest.mark.slow  # the file-size limit above covers the same path in the default suite
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_full_disk_mid_run_stops_with_exit_4_and_the_run_resumes(tmp_path, reference):
    with small_disk(tmp_path / "disk", 16) as disk:
        out = disk / "run"
        assert train(out, 1).returncode == 0
        kept = {p: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(disk).free - 200_000))  # leave 200 kB
        stopped = resume(out, 2)
        assert stopped.returncode == 4, stopped.stderr
        line = one_line(stopped)
        assert "cannot write (No space left on device)" in line
        assert line.endswith(f"continue with: vaekit train --resume {out}")
        assert {p: p.read_bytes() for p in list_checkpoints(out / "checkpoints")} == kept
        filler.unlink()  # space again
        finished = resume(out, 2)
        assert finished.returncode == 0, finished.stderr
        assert_metrics_equal(out, reference)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only disk needs root")
@pytest.mark.slow
def test_an_out_on_a_read_only_disk_is_one_line_before_training(tmp_path):
    with small_disk(tmp_path / "disk", 1, read_only=True) as disk:
        result = train(disk / "run", 1)
        assert result.returncode == 2
        assert one_line(result) == (
            f"vaekit: error: {disk / 'run'}: cannot create the run folder (Read-only file system)"
        )
