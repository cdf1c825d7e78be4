"""What a run folder's files say must agree with what its model is.

A run folder holds its settings twice: ``config.yaml``, which people read and may edit, and the
model files (``model.keras`` and the checkpoints), which record the :class:`ModelConfig` the model
was built from, its objective, and (checkpoints and final models of this vaekit on) the whole
resolved config of the run that wrote them. A command that reads a run compares the two before it
uses either, so a ``config.yaml`` changed by hand is named, not trusted: a model trained with
``z_dim: 2`` is never described, evaluated or resumed as one with ``z_dim: 3``.

What may change when a run resumes is :data:`RESUMABLE` (``--set train.epochs=12`` on
``vaekit train --resume``); the model, the data and the objective stay as the run began.
:data:`AT_EPOCH_END` may change only at an epoch's end, since the rest of a half-done epoch is
drawn from them.

Example:
    >>> from vaekit.config import Config
    >>> saved = Config.from_dict({"model": {"z_dim": 2}})
    >>> check_resume_overrides(saved, Config.from_dict({"model": {"z_dim": 2}}, ["train.epochs=9"]))
    >>> check_resume_overrides(saved, Config.from_dict({"model": {"z_dim": 3}}))
    Traceback (most recent call last):
    ...
    vaekit.errors.ConfigError: --set model.z_dim: a resumed run keeps its model.z_dim (2); ...
"""

from __future__ import annotations

from pathlib import Path

from vaekit.config import Config, ModelConfig, build_section
from vaekit.errors import ConfigError
from vaekit.models.objective import Objective
from vaekit.runs.checkpoints import find_state

# The train.* settings a resumed run may change (with --set, or in config.yaml).
RESUMABLE = (
    "epochs",
    "learning_rate",
    "lr_decay",
    "batch_size",
    "seed",
    "shuffle",
    "device",
    "gpu_memory_limit_mb",
    "jit_compile",
    "threads",
    "steps_per_execution",
    "checkpoint_every_steps",
    "keep_checkpoints",
    "tensorboard",
    "tensorboard_images_every",
    "check_memory",
    # Where it trains: a checkpoint moves between one device and many, and between machines.
    "distribute",
    "cpu_devices",
    "coordinator_address",
    "num_processes",
    "process_id",
)
# Of those, the ones the rest of an epoch is drawn with: they change only at an epoch's end.
AT_EPOCH_END = ("batch_size", "seed", "shuffle")
RESUMABLE_KEYS = {f"train.{key}" for key in RESUMABLE}


def resumable_list() -> str:
    """The settings a resumed run may change, for messages."""
    return ", ".join(f"train.{key}" for key in RESUMABLE)


def flatten(values: dict) -> dict[str, object]:
    """``{"section.key": value}`` of a config dict (lists and tuples compare alike)."""
    flat = {}
    for section, keys in values.items():
        for key, value in (keys or {}).items():
            flat[f"{section}.{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def differences(before: dict, after: dict) -> list[tuple[str, object, object]]:
    """``(section.key, before, after)`` for every setting that differs, in the config's order."""
    old, new = flatten(before), flatten(after)
    return [(key, old.get(key), new.get(key)) for key in old | new if old.get(key) != new.get(key)]


def check_resume_overrides(saved: Config, config: Config) -> None:
    """``config`` (``saved`` with ``--set`` overrides) changes only :data:`RESUMABLE` settings."""
    for key, before, _ in differences(saved.to_dict(), config.to_dict()):
        if key not in RESUMABLE_KEYS:
            raise ConfigError(
                f"--set {key}: a resumed run keeps its {key} ({before!r}); a resumed run can "
                f"change {resumable_list()}; to change {key}, train a new run"
            )


def check_epoch_boundary(saved: Config, config: Config, checkpoint: Path, steps: int) -> None:
    """Refuse :data:`AT_EPOCH_END` changes when resuming inside an epoch (``steps`` > 0)."""
    if steps == 0:
        return
    for key in AT_EPOCH_END:
        before, after = getattr(saved.train, key), getattr(config.train, key)
        if before != after:
            raise ConfigError(
                f"train.{key}: {checkpoint.name} is {steps} steps into an epoch, whose other "
                f"batches are drawn with train.{key} {before!r}; resume with it to the epoch's "
                f"end (--set train.epochs=N), then change it to {after!r}"
            )


def recorded_config(state: dict | None) -> dict | None:
    """The resolved run config a model file recorded in its training state
    (:func:`~vaekit.runs.checkpoints.find_state`; None for files from before it did)."""
    recorded = state.get("config") if isinstance(state, dict) else None
    return recorded if isinstance(recorded, dict) else None


def check_agreement(config_path: Path, config: Config, header: dict, source: Path) -> None:
    """Raise :class:`~vaekit.errors.ConfigError` naming ``config_path`` where ``config`` (read
    from it) disagrees with what the model file ``source`` (its ``header``) was trained with.

    Compared: the model's settings and its objective, which every vaekit model file records, and
    where ``source`` recorded the run's whole config, every setting but :data:`RESUMABLE`.
    """
    trained = _trained_with(header, find_state(source))
    now = flatten(config.to_dict())
    found = [(key, then, now[key]) for key, then in trained.items() if now.get(key) != then]
    if found:
        key, then, value = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConfigError(
            f"{config_path}: {key} is {value!r}, but {source.name} was trained with {then!r}"
            f"{more}: one of the two files was changed after training; put back {key}: "
            f"{then!r} (a run keeps its model, data and objective; vaekit train --help lists "
            "the settings that --resume --set can change)"
        )


def _trained_with(header: dict, state: dict | None) -> dict[str, object]:
    """``{"section.key": value}`` of what a model file (its ``header`` and training ``state``)
    says it was trained with."""
    model = header.get("config") or {}
    trained = {}
    recorded = recorded_config(state)
    if recorded is not None:
        try:
            trained = flatten(Config.from_dict(recorded).to_dict())
        except ConfigError:
            trained = {}  # a config this vaekit cannot read: compare what the model says
        trained = {key: value for key, value in trained.items() if key not in RESUMABLE_KEYS}
    try:
        built = build_section("model", ModelConfig, model.get("model_config") or {})
    except ConfigError:
        return trained  # a model config this vaekit cannot read: loading the file will say so
    trained |= flatten({"model": built.__dict__})
    objective = Objective.from_dict(model.get("objective"), model.get("kl_factor", 2e-4))
    trained |= {
        "train.loss_convention": objective.convention,
        "train.kl_schedule": objective.kl_schedule,
        "train.free_bits": objective.free_bits,
        "train.iw_samples": objective.iw_samples,
        "train.divergence": objective.divergence,
    }
    if objective.divergence == "mmd":
        trained["train.mmd_weight"] = objective.mmd_weight
        trained["train.mmd_kernel"] = objective.mmd_kernel
    if objective.convention != "reference":  # the elbo's and squared error's KL weight
        trained["train.beta"] = objective.kl_weight
    return trained
