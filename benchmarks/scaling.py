"""Training throughput on one device against the same run spread over devices and processes.

Run from the repository root (each configuration is ``vaekit train`` in new processes):

    python -m benchmarks.scaling                        # the CPU table of docs/scaling.md
    python -m benchmarks.scaling --images 16384 --epochs 3 --only jax-1,jax-2
    python -m benchmarks.scaling --device gpu --only jax-1,jax-gpus   # on a machine with GPUs

Each configuration trains ``configs/mnist_seed.yaml`` on the first ``--images`` MNIST images for
``--epochs`` epochs without validation; the figure is images per second over the epochs after the
first (whose time includes compiling), from ``metrics.csv``'s seconds, median of the epochs. The
configurations: ``tf-1`` / ``tf-2`` (TensorFlow, one device / ``mirrored`` over two logical CPU
devices), ``jax-1`` / ``jax-2`` (JAX, one device / ``data_parallel`` over two forced CPU devices),
``jax-2x1`` (JAX, two processes on 127.0.0.1 with one CPU device each), and on GPUs ``jax-gpus``
(``data_parallel`` over every GPU). Prints one JSON line per configuration.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAEKIT = str(Path(sys.executable).with_name("vaekit"))
FORCED = "--xla_force_host_platform_device_count="

# name -> (KERAS_BACKEND, extra --set, XLA_FLAGS devices, processes)
CONFIGURATIONS = {
    "tf-1": ("tensorflow", [], None, 1),
    "tf-2": ("tensorflow", ["train.distribute=mirrored", "train.cpu_devices=2"], None, 1),
    "jax-1": ("jax", [], None, 1),
    "jax-2": ("jax", ["train.distribute=data_parallel"], 2, 1),
    "jax-2x1": ("jax", ["train.distribute=data_parallel"], None, 2),
    "jax-gpus": ("jax", ["train.distribute=data_parallel"], None, 1),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(name: str, images: int, epochs: int, device: str, folder: Path) -> dict:
    backend, settings, forced, processes = CONFIGURATIONS[name]
    out = folder / name
    common = [
        VAEKIT, "train", "--config", str(ROOT / "configs" / "mnist_seed.yaml"), "--out", str(out),
        "--quiet", "--set", f"data.limit={images}", "--set", f"train.epochs={epochs}",
        "--set", "data.validation=none", "--set", f"train.device={device}",
        *[part for setting in settings for part in ("--set", setting)],
    ]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": backend}
    if forced:
        env["XLA_FLAGS"] = f"{FORCED}{forced}"
    port = free_port()
    children = []
    for process in range(processes):
        cluster = []
        if processes > 1:
            cluster = [
                "--set", f"train.num_processes={processes}", "--set", f"train.process_id={process}",
                "--set", f"train.coordinator_address=127.0.0.1:{port}",
            ]  # fmt: skip
        children.append(subprocess.Popen([*common, *cluster], env=env, stderr=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, text=True))  # fmt: skip
    for child in children:
        _, stderr = child.communicate()
        if child.returncode:
            raise SystemExit(f"{name}: exit {child.returncode}\n{stderr[-2000:]}")
    with open(out / "metrics.csv", newline="") as file:
        seconds = [float(row["seconds"]) for row in csv.DictReader(file)][1:]
    per_epoch = statistics.median(seconds)
    return {
        "configuration": name,
        "images_per_second": round(images / per_epoch, 1),
        "seconds_per_epoch": round(per_epoch, 3),
        "epochs_timed": len(seconds),
        "images": images,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    parser.add_argument("--only", default="tf-1,tf-2,jax-1,jax-2,jax-2x1")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only.split(","):
            print(json.dumps(run(name, args.images, args.epochs, args.device, Path(folder))),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
