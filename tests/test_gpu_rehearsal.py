"""The GPU script (benchmarks/gpu_backends.sh) rehearsed on the CPU, so that it cannot rot.

The slow test runs the rehearsal's install and first two steps as the device would: the wheels,
a new Python 3.12 environment holding only the device image's packages (no Keras, no
TensorFlow), ``pip --target``, the versions, the throughput of every implementation on JAX and
PyTorch; then ``benchmarks.gpu_report`` reads what came back. It needs a Python 3.12 (pyenv's on
the project machines) and the package registry; without one it skips, or fails where
VAEKIT_REQUIRE_REHEARSAL=1 (CI) says it must run.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_backends.sh"
IMPLEMENTATIONS = ("vaekit (jax)", "plain-keras (jax)", "vaekit (torch)", "plain-keras (torch)",
                   "plain-torch")  # fmt: skip


def script(*arguments, timeout=60, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *map(str, arguments)], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


def report(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu_report", *map(str, arguments)],
                          cwd=ROOT, text=True, capture_output=True, timeout=120)  # fmt: skip


def python312() -> str | None:
    """A Python 3.12 that runs, found as gpu_backends.sh finds it (a pyenv shim may not run)."""
    candidates = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for found in filter(None, candidates):
        check = [found, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return found
    return None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "usage: gpu_backends.sh [--rehearse] OUT"),
        (("OUT", "--only", "info,bogus"), "--only: unknown step bogus; choose from info, "),
        (("OUT", "--frobnicate"), "unknown option --frobnicate"),
    ],
)
def test_script_refuses_in_one_line(arguments, message, tmp_path):
    arguments = [tmp_path / "out" if a == "OUT" else a for a in arguments]
    done = script(*arguments)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert message in done.stderr


def test_report_refuses_a_folder_that_no_run_wrote(tmp_path):
    done = report(tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"gpu_report: error: {tmp_path}: no steps.tsv in it, so no gpu_backends.sh run wrote it"
    )


@pytest.mark.slow
def test_rehearsal_installs_and_measures_as_the_device_would(tmp_path):
    if python312() is None:
        if os.environ.get("VAEKIT_REQUIRE_REHEARSAL"):
            pytest.fail("VAEKIT_REQUIRE_REHEARSAL is set and there is no Python 3.12")
        pytest.skip("no Python 3.12 for the rehearsal")
    out = tmp_path / "out"
    # 5 timed steps of each implementation, not 20: what is tested is that they all run.
    done = script("--rehearse", out, "--only", "info,throughput", timeout=1800,
                  env={"REHEARSAL_STEPS": "5"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # What the device call brings back: two files, well inside its 8 files of 16 MiB.
    assert sorted(path.name for path in out.iterdir()) == ["gpu_run.tgz", "steps.tsv"]
    assert (out / "gpu_run.tgz").stat().st_size < 16 * 2**20
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()[1:]]
    assert [row[:2] for row in rows] == [["info", "0"], ["throughput", "0"]]
    with tarfile.open(out / "gpu_run.tgz") as tar:
        device = json.load(tar.extractfile("./device.json"))
        names = tar.getnames()
    assert "./throughput.json" in names and not any(name.endswith(".keras") for name in names)
    # The environment was the device's: Python 3.12, Keras from the carried wheels, no TF.
    assert device["rehearsal"] is True
    assert device["versions"]["python"].startswith("3.12.")
    assert not device["tensorflow_installed"]
    assert "/site/keras/" in device["keras_from"]

    shown = report(out)
    assert shown.returncode == 0, shown.stderr
    assert "REHEARSAL on the CPU" in shown.stdout
    for implementation in IMPLEMENTATIONS:
        assert f"| {implementation} |" in shown.stdout
    assert "Reference epoch, fastest backend" in shown.stdout
    assert "Batch sizes: not measured (step batches was not run)." in shown.stdout

    before = {path: path.read_text() for path in (ROOT / "docs").glob("*.md")}
    refused = report(out, "--write")
    assert refused.returncode == 2
    assert "is a rehearsal on the CPU: its figures are not GPU figures" in refused.stderr
    assert {path: path.read_text() for path in before} == before
