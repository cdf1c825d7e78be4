"""Training throughput of vaekit, its KL wirings and bf16, against plain Keras and plain PyTorch.

Run from the repository root (``make bench`` runs the first line):

    python -m benchmarks.throughput                        # every implementation, 3 rounds
    python -m benchmarks.throughput --only vaekit,plain-torch --steps 100 --repeats 5
    python -m benchmarks.throughput --scaling              # vaekit: batch, image size, z_dim
    python -m benchmarks.throughput --json results.json    # also save every raw number
    python -m benchmarks.throughput --set train.jit_compile=true   # any vaekit config override
    python -m benchmarks.throughput --only vaekit,plain-keras,plain-torch \
        --backends tensorflow,jax,torch                    # vaekit and plain Keras per backend

Implementations: ``vaekit`` (configs/mnist_seed.yaml: kl_strategy layer, float32, through
``vaekit.training.run.compile_vae`` and ``VariationalAutoencoder.fit``), ``vaekit-add_loss``,
``vaekit-train_step``, ``vaekit-multi_output``, ``vaekit-bf16`` (train.precision=mixed_bfloat16),
``plain-keras`` (benchmarks/plain_keras.py) and ``plain-torch`` (benchmarks/plain_torch.py), all
on the MNIST training images.

Each run is a fresh process (``--worker NAME``; benchmarks/workers.py says how a step is timed),
and the rounds interleave the implementations, A B C A B C ..., so that slow drift of the machine
(heat, other load) spreads over all of them instead of favouring one. The Markdown tables go to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import report
from benchmarks.flops import training_flops_per_image
from benchmarks.workers import IMPLEMENTATIONS, Settings, load_config, measure
from vaekit.config import Config
from vaekit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CELEBA_LAYERS = (  # a CelebA-sized model: 64 -> 32 -> 16 -> 8 -> 4 and back
    "model.encoder_conv_filters=[32,64,64,64]",
    "model.encoder_conv_kernel_size=[3,3,3,3]",
    "model.encoder_conv_strides=[2,2,2,2]",
    "model.decoder_conv_t_filters=[64,64,32,3]",
    "model.decoder_conv_t_kernel_size=[3,3,3,3]",
    "model.decoder_conv_t_strides=[2,2,2,2]",
)
SYNTHETIC_NOTE = "synthetic rows train on uniform random images in [0, 1]: for timing only"


@dataclass(frozen=True)
class Case:
    """One row of a table: an implementation on one configuration."""

    label: str
    implementation: str
    batch: int
    shape: tuple[int, int, int]
    z_dim: int
    overrides: tuple[str, ...] = ()  # vaekit config overrides, "section.key=value"
    data: str = "mnist"
    backend: str | None = None  # KERAS_BACKEND of the worker (None: this process's)

    def settings(self, args) -> Settings:
        h, w, c = self.shape
        shape = [f"model.input_dim=[{h},{w},{c}]", f"model.z_dim={self.z_dim}"]
        overrides = [*self.overrides, *shape]
        return Settings(
            self.implementation,
            args.steps,
            args.warmup,
            self.batch,
            args.config,
            overrides,
            self.data,
        )

    def command(self, args) -> list[str]:
        """The worker's command line."""
        sets = [part for override in self.overrides for part in ("--set", override)]
        return [
            sys.executable, "-m", "benchmarks.throughput", "--worker", self.implementation,
            "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch", str(self.batch),
            "--shape", ",".join(map(str, self.shape)), "--z-dim", str(self.z_dim),
            "--config", args.config, "--data", self.data, *sets,
        ]  # fmt: skip


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}, expected an integer >= 1")
    return value


def _shape(text: str) -> tuple[int, int, int]:
    parts = tuple(int(part) for part in text.split(","))
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected H,W,C such as 28,28,1")
    return parts


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Training throughput of vaekit against plain Keras and PyTorch.",
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(IMPLEMENTATIONS)}")
    parser.add_argument("--steps", type=_positive, default=50, help="timed steps per run")
    parser.add_argument("--warmup", type=_positive, default=10, help="untimed steps first")
    parser.add_argument("--repeats", type=_positive, default=3, help="interleaved rounds")
    parser.add_argument(
        "--batch", type=_positive, help="batch size (main table; default: the config's)"
    )
    parser.add_argument("--scaling", action="store_true", help="vaekit at other sizes instead")
    parser.add_argument("--json", type=Path, help="also save the raw results to this file")
    parser.add_argument("--config", default="configs/mnist_seed.yaml", help="vaekit config")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a vaekit config override, for every run (repeatable)",
    )
    parser.add_argument("--shape", type=_shape, help="input H,W,C (main table; default: config)")
    parser.add_argument(
        "--z-dim", type=_positive, help="latent size (main table; default: the config's)"
    )
    parser.add_argument(
        "--data",
        choices=("auto", "mnist", "synthetic"),
        default="auto",
        help="auto: MNIST for 28,28,1, else synthetic",
    )
    parser.add_argument(
        "--backends",
        help="comma-separated Keras backends (tensorflow,jax,torch): each Keras implementation "
        "once per backend (plain-torch once)",
    )
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help="internal: measure one run")
    args = parser.parse_args(argv)
    args.config = str(Path(args.config).resolve())
    args.only = args.only.split(",") if args.only else list(IMPLEMENTATIONS)
    args.backends = args.backends.split(",") if args.backends else None
    if args.backends and args.scaling:
        parser.error("--backends: measures the main table; run --scaling with KERAS_BACKEND set")
    wrong = [name for name in args.backends or () if name not in ("tensorflow", "jax", "torch")]
    if wrong:
        parser.error(f"--backends: unknown {', '.join(wrong)}; choose from tensorflow, jax, torch")
    if args.worker:
        args.only = [args.worker]
    unknown = [name for name in args.only if name not in IMPLEMENTATIONS]
    if unknown:
        parser.error(
            f"--only: unknown {', '.join(unknown)}; choose from {', '.join(IMPLEMENTATIONS)}"
        )
    return args


def main_cases(args) -> list[Case]:
    """One case per implementation, at the config's shape and batch unless the options say."""
    sets = list(args.set)
    if args.shape:
        sets.append(f"model.input_dim=[{','.join(map(str, args.shape))}]")
    if args.z_dim:
        sets.append(f"model.z_dim={args.z_dim}")
    config = Config.load(args.config, sets)
    shape, z_dim = tuple(config.model.input_dim), config.model.z_dim
    batch = args.batch or config.train.batch_size
    data = args.data if args.data != "auto" else "mnist" if shape == (28, 28, 1) else "synthetic"
    if not args.backends or args.worker:
        return [Case(name, name, batch, shape, z_dim, tuple(args.set), data) for name in args.only]
    cases = []
    for backend in args.backends:
        for name in args.only:
            if name != "plain-torch":
                label = f"{name} ({backend})"
                cases.append(Case(label, name, batch, shape, z_dim, tuple(args.set), data, backend))
    if "plain-torch" in args.only:
        cases.append(Case("plain-torch", "plain-torch", batch, shape, z_dim, (), data, "torch"))
    return cases


def scaling_cases(args) -> tuple[list[Case], Case]:
    """vaekit at batch 32/128/512, z_dim 32 and a 64x64x3 model; and the reference case."""
    sets = tuple(args.set)
    reference = Case("28x28x1, z 2 (reference)", "vaekit", 128, (28, 28, 1), 2, sets)
    cases = [
        dataclasses.replace(reference, label="28x28x1, z 2", batch=32),
        reference,
        dataclasses.replace(reference, label="28x28x1, z 2", batch=512),
        dataclasses.replace(reference, label="28x28x1, z 32", z_dim=32),
        Case("64x64x3, z 32 (CelebA-sized)", "vaekit", 128, (64, 64, 3), 32,
             (*CELEBA_LAYERS, *sets), "synthetic"),
    ]  # fmt: skip
    return cases, reference


def run_worker(case: Case, args) -> dict:
    """Measure one case in a fresh process; a failure comes back as ``{"error": ...}``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if case.implementation == "plain-torch":
        env["KERAS_BACKEND"] = "torch"  # vaekit.config then loads Keras on torch, not TensorFlow
    if case.backend:
        env["KERAS_BACKEND"] = case.backend
    done = subprocess.run(case.command(args), cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    errors = [line for line in done.stderr.splitlines() if line.strip()] or ["no output"]
    sys.stderr.write(done.stderr[-4000:])
    return {"name": case.implementation, "error": errors[-1].strip()}


def run_rounds(cases: list[Case], args) -> dict[Case, list[dict]]:
    """Every case once per round, in the same order each round (A B C A B C ...)."""
    results = {case: [] for case in cases}
    for round_number in range(1, args.repeats + 1):
        for case in cases:
            result = run_worker(case, args)
            results[case].append(result)
            shown = result.get("error") or (
                f"{result['ms_per_step']:.2f} ms/step, peak {result['peak_rss_mib']:.0f} MiB"
            )
            where = f"[{round_number}/{args.repeats}] {case.label}, batch {case.batch}"
            print(f"{where}: {shown}", file=sys.stderr, flush=True)
    return results


def notes(args, cases: list[Case], reference: Case) -> list[str]:
    """The header lines that say what was measured and how to read the numbers."""
    flops = training_flops_per_image(load_config(reference.settings(args)).model)
    sets = f" with {' '.join(args.set)}" if args.set else ""
    data = (
        "synthetic images (see below)" if reference.data == "synthetic" else "MNIST training images"
    )
    lines = [
        f"Setup: `{_shown(args.config)}`{sets}, {data}; every run a fresh process: "
        f"{args.warmup} warm-up steps (compilation, tracing) then {args.steps} timed ones; "
        f"{args.repeats} round(s), the runs interleaved A B C A B C ...",
        f"Reference model ({reference.label}): {flops / 1e9:.4f} GFLOP per image per training "
        "step (3 x forward: forward + backward; benchmarks/flops.py).",
        "ms/step: the timed steps' wall time / their number (a step: batch fetch, forward, "
        "backward, update, loss read back), median over the rounds; min and max over the rounds.",
    ]
    if args.scaling:
        lines.append("time/image vs reference: µs/image over the reference row's µs/image.")
        lines.append(
            "CelebA-sized: encoder filters [32, 64, 64, 64], decoder filters [64, 64, 32, 3], "
            "kernels 3 and strides 2 throughout (64 -> 4 -> 64 pixels)."
        )
    else:
        lines.append(
            "samples/s = batch / ms/step; s/epoch = ceil(60000 / batch) x ms/step; speed = "
            "vaekit's ms/step / this row's (> 1: faster); peak RSS: the worker process's "
            "ru_maxrss (data and framework included); GFLOP/s = model FLOPs x samples/s; "
            "step-1 loss: the first batch's loss (about 0.69 when all train the same model)."
        )
    if any(case.data == "synthetic" for case in cases):
        lines.append(f"The {SYNTHETIC_NOTE}.")
    return lines


def _shown(path: str) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return path


def save_json(path: Path, args, info: dict, command: str, results: dict) -> None:
    """Every run's raw result and every case's summary, with the machine and the command."""
    saved = {
        "machine": info,
        "command": command,
        "mode": "scaling" if args.scaling else "throughput",
        "settings": {key: vars(args)[key] for key in ("steps", "warmup", "repeats", "set")},
        "config": args.config,
        "runs": [
            {"case": dataclasses.asdict(case), "round": i + 1, **run}
            for case, runs in results.items()
            for i, run in enumerate(runs)
        ],
        "summary": [
            {"case": dataclasses.asdict(case), **report.combine(runs)}
            for case, runs in results.items()
        ],
    }
    path.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    """Run the benchmark (or, with ``--worker``, one measurement); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        if args.worker:
            print(json.dumps(measure(main_cases(args)[0].settings(args))), flush=True)
            return 0
        cases, reference = scaling_cases(args) if args.scaling else (main_cases(args), None)
        for case in cases:  # a bad override or shape fails here, before any run
            load_config(case.settings(args))
    except ConfigError as error:
        print(f"throughput: error: {error}", file=sys.stderr)
        return 2
    if reference is None:
        reference = next((case for case in cases if case.implementation == "vaekit"), cases[0])

    results = run_rounds(cases, args)
    summaries = [(case, report.combine(runs)) for case, runs in results.items()]
    rows = [(case.label, summary) for case, summary in summaries]
    base = dict(summaries).get(reference, {})
    runs = [run for case_runs in results.values() for run in case_runs]
    command = shlex.join(["python", "-m", "benchmarks.throughput", *argv])
    info = report.machine()
    title = "vaekit scaling" if args.scaling else "Training throughput"
    table = report.scaling_table if args.scaling else report.throughput_table
    print(report.header(title, info, command, notes(args, cases, reference), runs))
    print()
    print(table(rows, base))
    if args.json:
        save_json(args.json, args, info, command, results)
    return 1 if any("error" in run for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
