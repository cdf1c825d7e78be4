"""One measurement: train one implementation for warm-up + timed steps, in its own process.

``python -m benchmarks.throughput --worker NAME --steps N --warmup W --batch B ...`` calls
:func:`measure` and prints its result as one JSON line; the parent process interleaves many.

How a step is timed (the same unit for every implementation): one training run of ``W + N``
steps, a timestamp taken after each step once its loss is a Python float, and
``ms/step = (time after step W+N - time after step W) / N``. So a step covers everything between
two steps: fetching the batch, forward, backward, the optimizer update and reading the loss
back. Compilation and tracing happen in the warm-up steps; building the model, loading the data and
``fit``'s own set-up happen before the first step, and are excluded.

- Keras (``vaekit*``, ``plain-keras``): a callback's ``on_train_batch_end``. On TensorFlow, Keras
  converts each step's logs to Python floats before calling any callback, whether or not one is
  registered, so the callback adds no synchronisation that ``fit`` does not already do.
- PyTorch (``plain-torch``): ``loss.item()`` after each step, as a training loop that logs its
  loss does (plus ``torch.cuda.synchronize()`` on a GPU).

Nothing heavy is imported here at module level, and a ``plain-torch`` worker runs with
``KERAS_BACKEND=torch`` (importing vaekit loads Keras's backend): it never loads TensorFlow, so its
peak memory is its own.
"""

from __future__ import annotations

import dataclasses
import itertools
import resource
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.flops import training_flops_per_image
from vaekit.config import Config


@dataclass
class Settings:
    """What one worker measures."""

    name: str
    steps: int
    warmup: int
    batch: int
    config_path: str
    overrides: list = dataclasses.field(default_factory=list)  # "section.key=value"
    data: str = "mnist"  # or "synthetic": uniform noise in [0, 1], for timing only


def load_config(settings: Settings) -> Config:
    """The benchmark's config: the file, the implementation's overrides, then the worker's own."""
    overrides = [*IMPLEMENTATIONS[settings.name][1], *settings.overrides]
    return Config.load(settings.config_path, [*overrides, f"train.batch_size={settings.batch}"])


def training_images(config: Config, data: str, count: int) -> np.ndarray:
    """``count`` float32 images (N, H, W, C) in [0, 1]: MNIST's first ones (repeated if needed)."""
    shape = tuple(config.model.input_dim)
    if data == "synthetic":
        return np.random.default_rng(0).random((count, *shape), dtype=np.float32)
    from vaekit import datasets

    (x_train, _), _ = datasets.load(data)
    if tuple(x_train.shape[1:]) != shape:
        raise SystemExit(f"--data {data}: images are {x_train.shape[1:]}, the model wants {shape}")
    return np.resize(x_train, (count, *shape))  # a writable copy; repeats past the end


def plain_arguments(config: Config) -> dict:
    """The architecture of ``config.model`` as the arguments of the plain implementations."""
    model = config.model
    return {
        "input_shape": tuple(model.input_dim),
        "encoder_filters": model.encoder_conv_filters,
        "encoder_kernels": model.encoder_conv_kernel_size,
        "encoder_strides": model.encoder_conv_strides,
        "decoder_filters": model.decoder_conv_t_filters,
        "decoder_kernels": model.decoder_conv_t_kernel_size,
        "decoder_strides": model.decoder_conv_t_strides,
        "z_dim": model.z_dim,
    }


# Runners: each trains for len(images) / batch steps and returns (records, info), with records
# [(steps done, time.perf_counter() after them, loss), ...].
def run_vaekit(config: Config, images: np.ndarray) -> tuple[list, dict]:
    """vaekit's own path: ``compile_vae(config)`` and ``VariationalAutoencoder.fit``."""
    from vaekit.training.run import compile_vae, prepare_devices

    settings = prepare_devices(config)
    vae = compile_vae(config, settings)
    records = []
    vae.fit(
        images,
        batch_size=config.train.batch_size,
        epochs=1,
        callbacks=[_keras_step_timer(records)],
        shuffle=config.train.shuffle,
        seed=config.train.seed,
        verbose=0,
    )
    return records, {**_keras_info(vae.model), "precision": settings.precision}


def run_plain_keras(config: Config, images: np.ndarray) -> tuple[list, dict]:
    """benchmarks/plain_keras.py: ``model.fit(x, x)`` on NumPy arrays."""
    import keras

    from benchmarks import plain_keras

    keras.utils.set_random_seed(config.train.seed)
    model = plain_keras.build_vae(
        **plain_arguments(config),
        kl_factor=config.model.kl_factor,
        learning_rate=config.train.learning_rate,
    )
    records = []
    batch = config.train.batch_size
    model.fit(images, images, batch_size=batch, callbacks=[_keras_step_timer(records)], verbose=0)
    return records, {**_keras_info(model), "precision": "float32"}


def run_plain_torch(config: Config, images: np.ndarray) -> tuple[list, dict]:
    """benchmarks/plain_torch.py: an eager loop over a shuffled tensor on the device."""
    import torch

    from benchmarks import plain_torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(config.train.seed)
    model = plain_torch.VAE(**plain_arguments(config)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)  # (N, C, H, W)
    with torch.no_grad():
        shape = tuple(model(x[:2])[0].shape)
    if shape != tuple(x[:2].shape):
        raise SystemExit(f"plain-torch: decoder gives {shape}, expected {tuple(x[:2].shape)}")
    batch, order = config.train.batch_size, torch.randperm(len(x), device=device)
    records = []
    for step in range(len(x) // batch):
        images_batch = x[order[step * batch : (step + 1) * batch]]
        loss = plain_torch.train_step(model, optimizer, images_batch, config.model.kl_factor)
        value = loss.item()  # a host value every step, as Keras's logs are
        if device == "cuda":
            torch.cuda.synchronize()
        records.append((step + 1, time.perf_counter(), value))
    info = {"backend": "torch", "device": device, "precision": "float32", "jit_compile": False}
    info["threads"] = torch.get_num_threads()
    if device == "cuda":
        info["device_name"] = torch.cuda.get_device_name()
        info["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return records, info


# name -> (runner, config overrides); the first is the reference of the speed ratios.
IMPLEMENTATIONS = {
    "vaekit": (run_vaekit, []),
    "vaekit-add_loss": (run_vaekit, ["model.kl_strategy=add_loss"]),
    "vaekit-train_step": (run_vaekit, ["model.kl_strategy=train_step"]),
    "vaekit-multi_output": (run_vaekit, ["model.kl_strategy=multi_output"]),
    "vaekit-bf16": (run_vaekit, ["train.precision=mixed_bfloat16"]),
    "plain-keras": (run_plain_keras, []),
    "plain-torch": (run_plain_torch, []),
}


def _keras_step_timer(records: list):
    import keras

    def after_step(batch, logs):  # batch: index of the last step of this call
        records.append((batch + 1, time.perf_counter(), float(logs["loss"])))

    return keras.callbacks.LambdaCallback(on_train_batch_end=after_step)


def _peak_tensorflow() -> float:
    import tensorflow as tf

    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def _peak_jax() -> float:
    import jax

    return (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use", float("nan"))


def _peak_torch() -> float:
    import torch

    return torch.cuda.max_memory_allocated()


# backend -> the peak bytes its allocator held on the first GPU
PEAK_DEVICE_BYTES = {"tensorflow": _peak_tensorflow, "jax": _peak_jax, "torch": _peak_torch}


def _keras_info(model) -> dict:
    import keras

    from vaekit import hardware

    backend = keras.backend.backend()
    info = {"backend": backend, "device": "cpu", "jit_compile": model.jit_compile}
    found = hardware.gpus()
    if found:
        info.update(device="gpu", device_name=found[0][0])
        info["peak_device_mib"] = PEAK_DEVICE_BYTES[backend]() / 2**20
    return info


def summarize(records: list, warmup: int) -> dict:
    """Step times from the records, dropping the first ``warmup`` steps (see the module doc)."""
    before = [r for r in records if r[0] <= warmup]
    if not before or len(before) == len(records):
        raise SystemExit(f"no timed steps: {len(records)} records with --warmup {warmup}")
    timed = records[len(before) - 1 :]  # starts at the end of the warm-up
    per_step = [
        (t1 - t0) * 1e3 / (s1 - s0) for (s0, t0, _), (s1, t1, _) in itertools.pairwise(timed)
    ]
    (s0, t0, _), (s1, t1, _) = timed[0], timed[-1]
    return {
        "ms_per_step": (t1 - t0) * 1e3 / (s1 - s0),
        "step_ms_min": min(per_step),
        "step_ms_median": statistics.median(per_step),
        "step_ms_max": max(per_step),
        "timed_steps": s1 - s0,
        "first_loss": records[0][2],
        "last_loss": records[-1][2],
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


def measure(settings: Settings) -> dict:
    """Train implementation ``settings.name`` for warm-up + timed steps; returns the result."""
    config = load_config(settings)
    images = training_images(
        config, settings.data, settings.batch * (settings.warmup + settings.steps)
    )
    runner = IMPLEMENTATIONS[settings.name][0]
    records, info = runner(config, images)
    return {
        "name": settings.name,
        **info,
        "batch": settings.batch,
        "warmup": settings.warmup,
        "input_dim": list(config.model.input_dim),
        "z_dim": config.model.z_dim,
        "data": settings.data,
        "train_flops_per_image": training_flops_per_image(config.model),
        **summarize(records, settings.warmup),
        "peak_rss_mib": peak_rss_mib(),
    }
