r"""What a run that fails tells the user to try: after running out of memory, after a NaN loss.

Each names the settings of this run that can cause the failure, largest share first, and what
the folder kept.

Example:
    >>> from vaekit.config import Config
    >>> hint = diverged_hint(Config.from_dict({"train": {"learning_rate": 0.01}}))
    >>> print(hint.replace(", or, ", ",\nor "))
    try a lower train.learning_rate (now 0.01),
    or in a new run, a lower model.kl_factor (now 0.0002)
"""

from __future__ import annotations

from vaekit.config import Config
from vaekit.errors import one_line
from vaekit.runs.folder import RunFolder
from vaekit.training.preflight import training_estimate


def out_of_memory_message(
    error: BaseException, run: RunFolder, config: Config, new_run: bool
) -> str:
    """The message of a real out-of-memory error in training; a new run that had not written a
    checkpoint yet is removed, so the same command can run again with a smaller setting."""
    detail = one_line(error) if str(error) else type(error).__name__
    detail = detail.split(" and type ")[0][:160]  # TensorFlow's message goes on for a while
    # What the memory goes to, largest first by the estimate: the settings to lower.
    settings = ["train.batch_size"]
    if config.train.iw_samples > 1:
        settings.append("train.iw_samples")
    if config.model.prior == "vamp":
        settings.append("model.pseudo_inputs")
    largest = training_estimate(config).setting()
    if largest in settings:
        settings.remove(largest)
        settings.insert(0, largest)
    newest = run.newest_checkpoint()
    if newest is not None and largest == "train.batch_size":
        kept = (
            f"the newest checkpoint is {newest}; continue with a smaller batch: vaekit train "
            f"--resume {run.path} --set train.batch_size=N"
        )
    elif newest is not None:
        kept = (
            f"the newest checkpoint is {newest}; a resumed run keeps {largest}, so train a new "
            "run with a smaller one"
        )
    elif new_run:
        run.remove_files()
        kept = "nothing was kept (no checkpoint had been written)"
    else:
        kept = "no checkpoint had been written"
    return (
        f"out of memory while training ({detail}); lower {', '.join(settings)} or the model's "
        f"size (model.z_dim, the filters, model.input_dim); {kept}"
    )


def diverged_hint(config: Config) -> str:
    """What to try after a NaN or infinite loss: the settings of this run that can make one
    (the KL weight that its loss convention uses, not the other), and no others."""
    train, model = config.train, config.model
    new_run = []
    if train.precision == "mixed_float16":
        new_run.append("train.precision mixed_bfloat16 or float32 (float16 overflows past 65504)")
    if model.likelihood == "gaussian" and model.gaussian_sigma == "learned":
        new_run.append("a fixed model.gaussian_sigma (a learned sigma can shrink to 0)")
    if train.loss_convention == "reference":
        weight, value = "model.kl_factor", model.kl_factor
    else:
        weight, value = "train.beta", train.beta
    if value > 0:
        new_run.append(f"a lower {weight} (now {value:g})")
    if train.divergence == "mmd" and train.mmd_weight > 0:
        new_run.append(f"a lower train.mmd_weight (now {train.mmd_weight:g})")
    hint = f"try a lower train.learning_rate (now {train.learning_rate:g})"
    return hint + (f", or, in a new run, {' or '.join(new_run)}" if new_run else "")
