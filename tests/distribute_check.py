"""Train each wiring and objective for one epoch on one device, then spread over all devices.

Run by tests/test_distribute.py in a new process whose backend has two CPU devices
(``python tests/distribute_check.py STRATEGY``: ``mirrored`` on TensorFlow, ``data_parallel`` on
JAX); prints one JSON object: for each case, the last logs of both runs and the devices used.
Both runs start from the same seed, see the same global batches in the same order and draw the
same noise, so they differ by float32 rounding alone.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from vaekit.config import Config
from vaekit.runs.data import load_data
from vaekit.training.run import compile_vae, prepare_devices

CASES = {
    "layer": {"model": {"kl_strategy": "layer"}},
    "add_loss": {"model": {"kl_strategy": "add_loss"}},
    "train_step": {"model": {"kl_strategy": "train_step"}},
    "multi_output": {"model": {"kl_strategy": "multi_output"}},
    # The ELBO in nats with a KL schedule and dynamic binarization (a variable a callback sets,
    # and a Bernoulli sample drawn per whole batch).
    "elbo_schedule_dynamic": {
        "model": {"kl_strategy": "layer"},
        "data": {"binarize": "dynamic"},
        "train": {"loss_convention": "elbo", "kl_schedule": "linear", "kl_warmup_epochs": 2},
    },
    # The importance-weighted bound: a hand-written loss and noise of shape (B, K, D).
    "iwae": {
        "model": {"kl_strategy": "train_step"},
        "train": {"loss_convention": "elbo", "iw_samples": 3},
    },
}
IMAGES, VALIDATION, BATCH = 512, 128, 64  # 8 steps of 64 images


def config_of(case: dict, strategy: str) -> Config:
    values = {
        # A small model: the sums a device split changes keep their lengths (batch x pixels).
        "model": {
            "seed": 1,
            "encoder_conv_filters": [8, 8, 8],
            "decoder_conv_t_filters": [8, 8, 1],
        },
        "data": {"dataset": "mnist", "limit": IMAGES, "validation": "none"},
        "train": {"epochs": 1, "batch_size": BATCH, "seed": 3, "cpu_devices": 2},
    }
    for section, settings in case.items():
        values[section] = {**values[section], **settings}
    values["train"]["distribute"] = strategy
    return Config.from_dict(values)


def train_once(config: Config) -> tuple[dict, int]:
    from vaekit.training.callbacks import KLSchedule

    settings = prepare_devices(config)
    data = load_data(config)
    validation = data.source.test.take(np.arange(VALIDATION))
    vae = compile_vae(config, settings)
    train = config.train
    schedule = KLSchedule(
        vae.model.kl_scale_variable, train.kl_schedule, train.epochs, train.kl_warmup_epochs,
        train.kl_cycles, train.kl_ramp,
    )  # fmt: skip
    history = vae.fit(
        data.train,
        batch_size=train.batch_size,
        epochs=train.epochs,
        validation_data=validation,
        callbacks=[schedule],
        seed=train.seed,
        verbose=0,
        binarize_seed=train.seed if config.data.binarize == "dynamic" else None,
    )
    logs = {key: float(values[-1]) for key, values in history.history.items()}
    return logs, settings.placement.devices


def main(strategy: str) -> None:
    results = {}
    for name, case in CASES.items():
        one, _ = train_once(config_of(case, "none"))
        spread, devices = train_once(config_of(case, strategy))
        results[name] = {"one": one, "spread": spread, "devices": devices}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
