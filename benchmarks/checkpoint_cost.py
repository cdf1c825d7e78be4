"""What checkpointing costs: seconds per MNIST epoch without and with step checkpoints.

Run: ``python -m benchmarks.checkpoint_cost [--every 0,100,20] [--repeats 2]``

Each setting trains the reference config (``configs/mnist_seed.yaml``, 60,000 images, batch 128,
validation on the test set) for one epoch in its own process through the real CLI, settings
interleaved so machine drift cancels. ``seconds`` comes from the run's ``metrics.csv`` (the
epoch's wall time: training, validation and the checkpoints written in it); the epoch-end
checkpoint is written in every setting. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = Path(__file__).parents[1] / "configs" / "mnist_seed.yaml"


def one_epoch(every: int, folder: Path) -> float:
    from vaekit.runs.metrics import read_metrics

    out = folder / f"every-{every}"
    setting = f"train.checkpoint_every_steps={every or 'null'}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vaekit.cli",
            "train",
            "--config",
            str(CONFIG),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "train.epochs=1",
            "--set",
            setting,
            "--set",
            "train.keep_checkpoints=2",
        ],
        check=True,
        capture_output=True,
    )
    return read_metrics(out / "metrics.csv")[0]["seconds"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--every",
        default="0,100,20",
        help="step cadences to compare, comma-separated (0: epoch ends only)",
    )
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    cadences = [int(v) for v in args.every.split(",")]
    seconds = {every: [] for every in cadences}
    for _ in range(args.repeats):
        for every in cadences:
            with tempfile.TemporaryDirectory() as folder:
                seconds[every].append(one_epoch(every, Path(folder)))
    base = statistics.median(seconds[cadences[0]])
    print("| step checkpoints | checkpoints per epoch | s/epoch (median) | runs | vs none |")
    print("| --- | --- | --- | --- | --- |")
    for every in cadences:
        median = statistics.median(seconds[every])
        saves = 1 + (469 - 1) // every if every else 1
        runs = ", ".join(f"{s:.1f}" for s in seconds[every])
        label = f"every {every} steps" if every else "none (epoch end only)"
        print(f"| {label} | {saves} | {median:.1f} | {runs} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
