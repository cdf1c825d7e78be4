"""The seeds table of docs/results.md: the shapes configs trained with several seeds and scored.

Run from the repository root:

    python -m benchmarks.disentanglement --runs runs/shapes --train   # train, score, then table
    python -m benchmarks.disentanglement --runs runs/shapes           # the table of what is there
    python -m benchmarks.disentanglement --runs runs/shapes3 --train --epochs 3 --threads 1

``--train`` runs, for each model and seed not yet done, ``vaekit train --config
configs/shapes_MODEL.yaml --set train.seed=SEED --out RUNS/MODEL-sSEED`` and ``vaekit evaluate
RUNS/MODEL-sSEED --disentanglement`` (disentanglement_lib's sample counts, seed 0), each a
process of its own; ``--threads 1`` runs them on one core, ``--epochs N`` sets train.epochs (the
configs' own is 10). The table reads each run's
``metrics.csv`` (the last epoch's validation negative ELBO: the test images, in nats) and
``disentanglement.json``, and prints, per model, the mean and the sample standard deviation over
its seeds of the test negative ELBO, MIG, the DCI scores, the FactorVAE score and SAP, then each
factor's MIG, as Markdown. A run that is missing or unscored is named and left out of the means.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAEKIT = str(Path(sys.executable).with_name("vaekit"))
# name in the table -> (config file, extra --set values)
MODELS = {
    "beta_vae": ("configs/shapes_beta_vae.yaml", []),
    "beta_tc": ("configs/shapes_beta_tc.yaml", []),
    "factor_vae": ("configs/shapes_factor_vae.yaml", []),
    "mmd": ("configs/shapes_mmd.yaml", []),
}
SCORES = (
    ("mig", "MIG"),
    ("dci_disentanglement", "DCI disentanglement"),
    ("dci_completeness", "DCI completeness"),
    ("dci_informativeness_test", "DCI informativeness"),
    ("factor_vae", "FactorVAE score"),
    ("sap", "SAP"),
)


def train(runs: Path, models, seeds, threads: int | None, epochs: int | None) -> None:
    """Train and score every model and seed whose run folder holds no scores yet."""
    for name in models:
        config, extra = MODELS[name]
        for seed in seeds:
            out = runs / f"{name}-s{seed}"
            sets = [f"train.seed={seed}", *extra]
            if threads:
                sets.append(f"train.threads={threads}")
            if epochs:
                sets.append(f"train.epochs={epochs}")
            if not (out / "model.keras").exists():
                arguments = ["train", "--config", str(ROOT / config), "--out", str(out), "--quiet"]
                subprocess.run([VAEKIT, *arguments, *[f"--set={s}" for s in sets]], check=True)
            if not (out / "disentanglement.json").exists():
                subprocess.run([VAEKIT, "evaluate", str(out), "--disentanglement"], check=True)


def _last_row(path: Path) -> dict:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))[-1]


def _spread(values: list[float], digits: int) -> str:
    if not values:
        return "—"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(runs: Path, models, seeds) -> str:
    """The Markdown table of the runs' scores (see the module docstring)."""
    head = ["model", "seeds", "epochs", "test negative ELBO", *(label for _, label in SCORES)]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    per_factor, missing = [], []
    for name in models:
        values: dict[str, list[float]] = {key: [] for key, _ in SCORES}
        nelbo, factors, found, epochs = [], {}, [], set()
        for seed in seeds:
            run = runs / f"{name}-s{seed}"
            scores_file = run / "disentanglement.json"
            if not scores_file.exists():
                missing.append(run.name)
                continue
            found.append(seed)
            scores = json.loads(scores_file.read_text())
            for key, _ in SCORES:
                values[key].append(scores["summary"][key])
            last = _last_row(run / "metrics.csv")
            nelbo.append(float(last["val_nelbo"]))
            epochs.add(last["epoch"])
            for factor, mig in zip(scores["factors"], scores["mig"]["per_factor"], strict=True):
                factors.setdefault(factor, []).append(mig)
        cells = [name, ", ".join(map(str, found)) or "—", ", ".join(sorted(epochs)) or "—"]
        cells.append(_spread(nelbo, 1))
        cells += [_spread(values[key], 3) for key, _ in SCORES]
        lines.append("| " + " | ".join(cells) + " |")
        if factors:
            shown = ", ".join(f"{f} {_spread(v, 3)}" for f, v in factors.items())
            per_factor.append(f"- {name}: {shown}")
    out = "\n".join(lines)
    if per_factor:
        out += "\n\nMIG per factor (mean ± standard deviation over the seeds):\n\n"
        out += "\n".join(per_factor)
    if missing:
        out += f"\n\nnot scored yet: {', '.join(missing)}"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/shapes"), help="run folders")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated train.seed values")
    parser.add_argument("--train", action="store_true", help="train and score what is missing")
    parser.add_argument("--threads", type=int, help="train.threads for each run")
    parser.add_argument("--epochs", type=int, help="train.epochs for each run (default: config's)")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(MODELS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.train:
        train(args.runs, models, seeds, args.threads, args.epochs)
    print(table(args.runs, models, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
