"""The documentation runs: module docstring examples and the README's Python workflow."""

import doctest
import importlib
import re
from pathlib import Path

import pytest

MODULES = [
    "cli",
    "config",
    "datasets",
    "io",
    "pipeline",
    "plots",
    "models.architecture",
    "models.gradients",
    "models.layers",
    "models.saving",
    "models.strategies",
    "models.vae",
    "training.callbacks",
    "training.checkpoints",
    "training.device",
    "training.guards",
    "training.run",
]
README = Path(__file__).parents[1] / "README.md"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(f"vaekit.{name}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0


def test_readme_python_workflow_runs(tmp_path, monkeypatch):
    """The README's API example, on 512 images for 1 epoch instead of 60,000 for 6."""
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    code = code.replace('datasets.load("mnist")', 'datasets.load("mnist", limit=512)')
    code = code.replace("epochs=6", "epochs=1")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "latent_space.png").stat().st_size > 1000
    assert (tmp_path / "vae.keras").exists()
