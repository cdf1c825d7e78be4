"""Helpers the test files share: the console script in a new process, tiny runs, folder snapshots.

Every command runs as the installed ``vaekit`` console script in its own process, as users run
it, on files another process wrote; nothing a test imported can help it along.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

VAEKIT = str(Path(sys.executable).with_name("vaekit"))  # the console script of this environment
CONFIG = str(Path(__file__).parents[1] / "configs" / "mnist_seed.yaml")  # the reference config
# A run of a few seconds: 256 images in batches of 64 (4 steps an epoch), a small model.
TINY = {
    "model": {"seed": 1, "encoder_conv_filters": [8, 8, 8], "decoder_conv_t_filters": [8, 8, 1]},
    "data": {"dataset": "mnist", "limit": 256},
    "train": {"epochs": 1, "batch_size": 64, "seed": 3},
}


def vaekit(*arguments, cwd=None, env=None, umask=None, limits=(), timeout=600):
    """Run the console script in a new process; returns the completed process.

    ``umask`` sets the new process's umask; ``limits`` are ``(resource, bytes)`` pairs of
    :func:`resource.setrlimit` for it (e.g. ``ulimit -v``).
    """

    def prepare():  # in the child, before it runs vaekit
        import resource

        if umask is not None:
            os.umask(umask)
        for kind, value in limits:
            resource.setrlimit(kind, (value, value))

    return subprocess.run(
        [VAEKIT, *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        preexec_fn=prepare if umask is not None or limits else None,
    )


def in_process(*arguments) -> subprocess.CompletedProcess:
    """The command run by :func:`vaekit.cli.main` in this process, its output captured, as
    :func:`vaekit` returns it: for the many cases of a table of refusals, where a new process
    costs seconds of imports. Each such table runs its first case through :func:`vaekit`, so
    that the console script itself is tested on that class of mistake."""
    import io

    from vaekit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(argument) for argument in arguments])
    return subprocess.CompletedProcess(["vaekit", *arguments], code, out.getvalue(), err.getvalue())


def console_first(cases):
    """``{case id: the runner}``: :func:`vaekit` for a table's first case, :func:`in_process`
    for the others (see :func:`in_process`)."""
    names = [(case.values if hasattr(case, "values") else case)[0] for case in cases]
    return {name: vaekit if index == 0 else in_process for index, name in enumerate(names)}


def ok(result) -> subprocess.CompletedProcess:
    """``result`` after checking it exited 0 without a traceback."""
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def one_line(result) -> str:
    """The one line a failed command printed on stderr (asserting that it is one line)."""
    lines = [line for line in result.stderr.strip().splitlines() if "warning" not in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("vaekit: error: "), lines[0]
    return lines[0]


def write_config(folder: Path, changes: dict | None = None, name: str = "tiny.yaml") -> Path:
    """:data:`TINY` with ``changes`` (``{"section": {"key": value}}``) as a config file."""
    values = json.loads(json.dumps(TINY))
    for section, keys in (changes or {}).items():
        values.setdefault(section, {}).update(keys)
    path = Path(folder) / name
    path.write_text(json.dumps(values))  # JSON is YAML
    return path


def train_tiny(out: Path, changes: dict | None = None) -> Path:
    """Train a tiny run into ``out`` with the console script; returns ``out``."""
    out = Path(out)
    config = write_config(out.parent, changes, name=f"{out.name}.yaml")
    ok(vaekit("train", "--config", config, "--out", out, "--quiet"))
    return out


def copy_run(run: Path, target: Path) -> Path:
    """A copy of a run folder to damage or edit."""
    shutil.copytree(run, target)
    return target


def snapshot(folder: Path) -> dict[str, str]:
    """``{relative path: SHA-256}`` of every file under ``folder`` (to show it did not change)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(Path(folder).rglob("*"))
        if path.is_file()
    }


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int, read_only: bool = False):
    """A tmpfs of the given size mounted at ``folder`` (root only; skipped where not allowed)."""
    folder.mkdir()
    options = f"size={megabytes}m" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def gradient(function, value) -> np.ndarray:
    """``d sum(function(x)) / dx`` at ``value``, by the autodiff of the Keras backend in use."""
    import keras

    value = np.asarray(value, np.float32)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.Variable(value)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(function(x))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda x: jnp.sum(function(x)))(jnp.asarray(value)))
    import torch

    x = torch.tensor(value, requires_grad=True)
    torch.sum(function(x)).backward()
    return x.grad.numpy()
