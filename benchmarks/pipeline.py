"""The input pipeline on a folder of JPEGs: images per second, and memory against folder size.

Run from the repository root:

    python -m benchmarks.pipeline make-folder /tmp/jpegs --count 50000      # 64x64x3 JPEGs
    python -m benchmarks.pipeline throughput /tmp/jpegs --batches 200        # pipeline alone
    python -m benchmarks.pipeline train-rss /tmp/jpegs --limit 10000          # peak RSS of training

``make-folder`` writes generated 64 x 64 x 3 JPEGs (quality 90): a coloured shape of the
``shapes_color`` set over a random smooth background with pixel noise, so that each file has the
size and decoding cost of a photograph of that size (about 4 kB), in 10 class folders.

``throughput`` times ``vaekit.datasets.pipeline.make_dataset`` over the folder alone, as training
reads it (shuffled, decoded, converted and batched; nothing trains): images per second after a
warm-up, median of ``--repeats`` passes.

``train-rss`` runs ``vaekit train --config configs/celeba64.yaml`` on the first ``--limit`` images
of the folder (a folder of that many, made by linking) for ``--epochs`` epochs in a child process,
and prints its peak resident memory (``ru_maxrss``) and its seconds per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_folder(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` JPEGs of 64 x 64 x 3 in 10 class folders (see the module docstring)."""
    from PIL import Image

    from vaekit.datasets import shapes

    images, _ = shapes.render(shapes.SPECS["shapes_color"])
    rng = np.random.default_rng(seed)
    for label in range(10):
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
    grid = np.linspace(0.0, 1.0, 64, dtype=np.float32)
    for i in range(count):
        corner = rng.uniform(0, 160, size=(2, 2, 3)).astype(np.float32)
        # A bilinear gradient between four random corner colours, then the shape, then noise.
        top = corner[0, 0] * (1 - grid[:, None]) + corner[0, 1] * grid[:, None]
        bottom = corner[1, 0] * (1 - grid[:, None]) + corner[1, 1] * grid[:, None]
        background = top[None] * (1 - grid[:, None, None]) + bottom[None] * grid[:, None, None]
        shape = images[rng.integers(len(images))].astype(np.float32)
        pixels = np.where(shape > 0, shape, background) + rng.normal(0, 6, (64, 64, 3))
        picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        picture.save(folder / f"class{i % 10}" / f"{i:06d}.jpg", quality=90)


def _batches(dataset):
    """The batches as ``fit`` reads them: tf.data on TensorFlow; on JAX and PyTorch the
    ``PyDataset`` through Keras's own adapter (its decoding threads and queue)."""
    if hasattr(dataset, "cardinality"):
        yield from dataset
        return
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(dataset, shuffle=False)
    while True:
        adapter.on_epoch_begin()
        yield from adapter.get_numpy_iterator()
        adapter.on_epoch_end()


def throughput(folder: Path, batches: int, batch_size: int, repeats: int) -> dict:
    """Images per second of the pipeline alone over ``folder`` (see the module docstring)."""
    from vaekit.datasets import open_images
    from vaekit.datasets.pipeline import make_dataset

    started = time.perf_counter()
    data = open_images(folder, (64, 64, 3))
    listed = time.perf_counter() - started
    rates = []
    for repeat in range(repeats):
        stream = _batches(make_dataset(data.train, batch_size, seed=repeat, epochs=1_000))
        for _ in range(10):  # warm-up: threads started, buffers filled
            next(stream)
        started = time.perf_counter()
        for _ in range(batches):
            next(stream)
        rates.append(batches * batch_size / (time.perf_counter() - started))
    return {
        "images": len(data.train) + len(data.test),
        "list_and_check_s": listed,
        "images_per_s": statistics.median(rates),
        "images_per_s_all": rates,
    }


def train_rss(folder: Path, limit: int, epochs: int, steps: int | None) -> dict:
    """Peak RSS and seconds per epoch of ``vaekit train`` on the first ``limit`` images."""
    files = sorted(folder.rglob("*.jpg"))[:limit]
    with tempfile.TemporaryDirectory() as scratch:
        subset = Path(scratch) / "images"
        for path in files:  # links: the same files, a folder of exactly `limit` of them
            target = subset / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target)
        sets = [f"data.dataset={subset}", f"train.epochs={epochs}"]
        command = [sys.executable, "-m", "vaekit.cli", "train", "--config",
                   str(ROOT / "configs" / "celeba64.yaml"), "--out", str(Path(scratch) / "run"),
                   "--quiet", *[part for s in sets for part in ("--set", s)]]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        rows = (Path(scratch) / "run" / "metrics.csv").read_text().splitlines()[1:]
        seconds = [float(row.split(",")[-1]) for row in rows]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10  # KiB -> MiB
    return {"images": limit, "peak_rss_mib": peak, "seconds_per_epoch": seconds, "wall_s": wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-folder")
    make.add_argument("folder", type=Path)
    make.add_argument("--count", type=int, default=50_000)
    rate = commands.add_parser("throughput")
    rate.add_argument("folder", type=Path)
    rate.add_argument("--batches", type=int, default=200)
    rate.add_argument("--batch-size", type=int, default=128)
    rate.add_argument("--repeats", type=int, default=3)
    rss = commands.add_parser("train-rss")
    rss.add_argument("folder", type=Path)
    rss.add_argument("--limit", type=int, default=10_000)
    rss.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "make-folder":
        started = time.perf_counter()
        make_folder(args.folder, args.count)
        print(f"{args.count} JPEGs in {args.folder} ({time.perf_counter() - started:.0f} s)")
    elif args.command == "throughput":
        print(json.dumps(throughput(args.folder, args.batches, args.batch_size, args.repeats)))
    else:
        print(json.dumps(train_rss(args.folder, args.limit, args.epochs, None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
