"""The documentation runs: module docstring examples and the README's Python workflow."""

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vaekit
from vaekit.runs.agreement import AT_EPOCH_END, RESUMABLE

# Every module of the package, found by walking it: a new module's examples run without a list
# to keep up to date.
MODULES = sorted(
    info.name.removeprefix("vaekit.")
    for info in pkgutil.walk_packages(vaekit.__path__, prefix="vaekit.")
)
README = Path(__file__).parents[1] / "README.md"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    backend = name.removeprefix("backends.").split(".")[0]  # a backend package and its modules
    if backend in vaekit.backends.NAMES and backend != vaekit.backends.name():
        pytest.skip(f"{name}'s examples run on its own backend (KERAS_BACKEND={backend})")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(f"vaekit.{name}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0


@pytest.mark.slow
def test_readme_python_workflow_runs_in_two_fresh_processes(tmp_path):
    """The README's API blocks, each in a new interpreter: train and save, then load and go on.

    On 512 images and 1 + 1 epochs instead of 60,000 and 6 + 2.
    """
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 2
    shrink = {
        'datasets.load("mnist")': 'datasets.load("mnist", limit=512)',
        "epochs=6,": "epochs=1,",
        "epochs=8, initial_epoch=6": "epochs=2, initial_epoch=1",
    }
    for block in blocks:
        for old, new in shrink.items():
            block = block.replace(old, new)
        result = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "latent_space.png").stat().st_size > 1000
    assert (tmp_path / "vae.keras").exists()


def test_the_readmes_list_of_what_a_resume_can_change_is_the_codes():
    """The README's sentence names :data:`RESUMABLE` (which ``vaekit train --help`` prints) in its
    order, and :data:`AT_EPOCH_END` as the settings that change at an epoch's end only."""
    text = " ".join(README.read_text().split())
    sentence = text.split("may change only ", 1)[1].split("; `vaekit train --help` lists them")[0]
    listed, at_epoch_end = sentence.split(" (", 1)
    assert [name.removeprefix("train.") for name in re.findall(r"`([\w.]+)`", listed)] == list(
        RESUMABLE
    )
    assert tuple(re.findall(r"`(\w+)`", at_epoch_end)) == AT_EPOCH_END
