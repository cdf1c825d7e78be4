"""The tutorial notebook runs top to bottom in a fresh kernel, at a small size."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat: pip install 'vaekit[test]'")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient: pip install 'vaekit[test]'")

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "mnist_vae.ipynb"


def test_the_tutorial_notebook_runs_from_a_fresh_kernel(tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The notebook's parameters, read from the environment by its first code cell.
    monkeypatch.setenv("VAEKIT_NOTEBOOK_IMAGES", "512")
    monkeypatch.setenv("VAEKIT_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on a failure
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 3
    assert (tmp_path / "mnist_vae.keras").is_file()
    shown = "".join(str(output.get("data", {}).get("text/plain", "")) for output in outputs)
    assert "IWAE bound, K=20" in shown and "'nelbo'" in shown
