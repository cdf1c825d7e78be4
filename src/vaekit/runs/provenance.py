r"""Which model a result was computed on, and whether the run's model is still that one.

``evaluation.json`` and ``disentanglement.json`` record the model file they were computed on and
where training stood in it (``"model": {"file": ..., "epochs": ..., "steps": ...}``): a
checkpoint's position is in its name (:mod:`vaekit.training.checkpoints`), ``model.keras`` holds
its own (its training state). After ``vaekit train --resume`` the run's model is another one;
:func:`check` then says that the result is of an older model, and the report and ``vaekit
compare`` show that sentence instead of its numbers. A result written before vaekit recorded
this has no ``model``: it is shown, with a note that it is not known which model it is of.

Example:
    >>> describe({"file": "model.keras", "epochs": 3, "steps": 0})
    'epoch 3'
    >>> describe({"file": "checkpoints/ckpt-e0003-s000120.keras", "epochs": 3, "steps": 120})
    'epoch 3 and 120 steps'
    >>> state, sentence = check({"model": {"epochs": 3, "steps": 0}}, {"epochs": 5, "steps": 0},
    ...                         "runs/a", "evaluation.json")
    >>> state
    'stale'
    >>> print(sentence.replace("; ", ";\n"))
    evaluation.json was computed at epoch 3;
    the model is now at epoch 5: run vaekit evaluate runs/a again
"""

from __future__ import annotations

from pathlib import Path

from vaekit.errors import ModelFileError
from vaekit.models.saving import read_model_header
from vaekit.runs.checkpoints import checkpoint_position, find_state, list_checkpoints

# The command that computes each result again, after ``vaekit evaluate RUN``.
AGAIN = {"evaluation.json": "", "disentanglement.json": " --disentanglement"}


def position(source: str | Path, run_path: str | Path | None = None) -> dict:
    """Where training stood in a model file: ``{"file", "epochs", "steps"}``.

    ``file`` is relative to ``run_path`` where it is inside it; ``epochs`` is None for a final
    model of a vaekit that did not record it.

    Raises:
        ModelFileError: an unreadable model file.
    """
    source = Path(source)
    read_model_header(source)  # a vaekit model file, complete
    try:
        epochs, steps = checkpoint_position(source)
    except ModelFileError:  # model.keras: its training state, where the vaekit recorded one
        state = find_state(source) or {}
        epochs, steps = state.get("epochs_done"), state.get("steps") or 0
        epochs = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
        steps = steps if isinstance(steps, int) and not isinstance(steps, bool) else 0
    name = source
    if run_path is not None and source.resolve().is_relative_to(Path(run_path).resolve()):
        name = source.resolve().relative_to(Path(run_path).resolve())
    return {"file": name.as_posix(), "epochs": epochs, "steps": steps}


def current(run_path: str | Path) -> dict | None:
    """The :func:`position` of the model a command reading the run uses now (``model.keras``,
    else the newest readable checkpoint), or None where there is none; reads no weights."""
    run_path = Path(run_path)
    for path in [run_path / "model.keras", *reversed(list_checkpoints(run_path / "checkpoints"))]:
        if path.exists():
            try:
                return position(path, run_path)
            except ModelFileError:
                continue
    return None


def describe(where: dict) -> str:
    """A position as people say it: ``epoch 3``, or ``epoch 3 and 120 steps`` mid-epoch."""
    steps = where.get("steps") or 0
    return f"epoch {where.get('epochs')}" + (f" and {steps} steps" if steps else "")


def check(result: dict, now: dict | None, run: str | Path, file_name: str) -> tuple[str, str]:
    """``(state, sentence)``: "current" (and ""), "stale" (the run's model trained on since the
    result was computed) or "unknown" (the result does not record its model), with what to do.

    Args:
        result: the JSON result (``evaluation.json`` or ``disentanglement.json``).
        now: the run's model's :func:`position` now (:func:`current`), or None if unknown.
        run: the run folder, as the sentence names it.
        file_name: the result's file name, as the sentence names it.
    """
    command = f"vaekit evaluate {run}{AGAIN.get(file_name, '')}"
    recorded = result.get("model")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("epochs"), int):
        later = f" (the model is now at {describe(now)})" if now and now.get("epochs") else ""
        return "unknown", (
            f"{file_name} does not record which model it was computed on (an older vaekit wrote "
            f"it){later}: if the run has trained since, run {command} again"
        )
    if now is None or now.get("epochs") is None:
        return "current", ""
    key = (recorded.get("epochs"), recorded.get("steps") or 0)
    if key == (now["epochs"], now.get("steps") or 0):
        return "current", ""
    return "stale", (
        f"{file_name} was computed at {describe(recorded)}; the model is now at "
        f"{describe(now)}: run {command} again"
    )
