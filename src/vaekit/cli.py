"""The ``vaekit`` command: parse arguments, load the config, call :mod:`vaekit.training.run`.

    vaekit train --config FILE [--set section.key=value ...] [--out RUN_DIR]
    vaekit train --resume RUN_DIR [--set train.epochs=N ...]
    vaekit evaluate RUN_DIR [--samples K] [--split test|train] [--limit N] [--out FILE.json]
    vaekit evaluate RUN_DIR --disentanglement [--score-samples N] [--split ...] [--limit N]
    vaekit plot RUN_DIR
    vaekit report RUN_DIR [--out FILE.html] [--points N] [--grid N]
    vaekit compare RUN_DIR RUN_DIR ... [--out compare.html]
    vaekit generate RUN_DIR -n 64 --out FILE.png [--seed S] [--label LABEL]
    vaekit info [--json]
    vaekit datasets

Exit codes: 0 done; 2 a user mistake (one line on stderr, no traceback); 3 training diverged
(NaN or inf loss); 4 a file could not be written (disk full, read-only); 5 out of memory (an
allocation failed; the message says what to lower); 130 / 143 stopped by SIGINT / SIGTERM after
checkpointing (the message gives the command that resumes).

Example:
    >>> main(["train", "--config", "no/such.yaml"])
    2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import warnings
from pathlib import Path

from vaekit import datasets, distribute, evaluation, hardware, plots, report
from vaekit.backends import is_out_of_memory
from vaekit.config import Config
from vaekit.errors import Interrupted, OutOfMemory, VaekitError, one_line
from vaekit.report import figures
from vaekit.report.compare import compare_runs
from vaekit.runs.agreement import resumable_list
from vaekit.training import run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaekit", description="Convolutional VAEs on Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a new run, or resume one",
        epilog=f"A resumed run keeps its model, data and objective; --set can change "
        f"{resumable_list()}.",
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="YAML config with sections model, data, train")
    source.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (parsed as YAML); repeatable",
    )
    train.add_argument("--out", metavar="RUN_DIR", help="run folder (default: runs/NAME-TIME)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser(
        "evaluate",
        help="nats per image: reconstruction, KL, negative ELBO and the importance-weighted "
        "bound on -log p(x); writes RUN_DIR/evaluation.json",
    )
    evaluate.add_argument("run_dir")
    evaluate.add_argument(
        "--samples",
        type=int,
        default=evaluation.DEFAULT_SAMPLES,
        metavar="K",
        help=f"importance samples per image (default {evaluation.DEFAULT_SAMPLES})",
    )
    evaluate.add_argument(
        "--split", choices=list(evaluation.SPLITS), default="test", help="default: test"
    )
    evaluate.add_argument("--limit", type=int, metavar="N", help="the first N images of the split")
    evaluate.add_argument(
        "--batch-size", type=int, metavar="N", help="images at a time (default train.batch_size)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    evaluate.add_argument(
        "--max-points",
        type=int,
        default=evaluation.DEFAULT_MAX_POINTS,
        metavar="N",
        help=f"latent points decoded at a time: bounds memory (default "
        f"{evaluation.DEFAULT_MAX_POINTS})",
    )
    evaluate.add_argument(
        "--out", metavar="FILE", help="JSON file (default RUN_DIR/evaluation.json)"
    )
    evaluate.add_argument(
        "--disentanglement",
        action="store_true",
        help="instead: MIG, DCI, FactorVAE and SAP scores against the data's ground-truth "
        "factors (shapes); writes RUN_DIR/disentanglement.json",
    )
    evaluate.add_argument(
        "--score-samples",
        type=int,
        metavar="N",
        help="with --disentanglement: N samples in place of disentanglement_lib's 10,000; at "
        "least what the split's factors need for every factor to show two values among each "
        "score's draws (15 on all of shapes; more on fewer images, or uneven factors: a "
        "smaller N is refused, naming it)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")

    plot = commands.add_parser("plot", help="redraw the plots of a run")
    plot.add_argument("run_dir")
    plot.add_argument("--quiet", action="store_true", help="no progress bar")

    report_command = commands.add_parser(
        "report",
        help="one self-contained HTML page: config, metrics, plots, evaluation and a latent-space "
        "explorer; writes RUN_DIR/report.html",
    )
    report_command.add_argument("run_dir")
    report_command.add_argument(
        "--out", metavar="FILE", help="HTML file (default RUN_DIR/report.html)"
    )
    report_command.add_argument(
        "--points",
        type=int,
        metavar="N",
        help=f"test images in the explorer (default {report.DEFAULT_POINTS})",
    )
    report_command.add_argument(
        "--grid",
        type=int,
        metavar="N",
        help=f"the explorer decodes an N x N grid (default {report.DEFAULT_GRID})",
    )
    report_command.add_argument("--quiet", action="store_true", help="no progress bar")

    compare = commands.add_parser(
        "compare", help="several runs on one page: configs, curves, final figures, samples"
    )
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    compare.add_argument("--out", default="compare.html", help="HTML file (default compare.html)")

    generate = commands.add_parser(
        "generate",
        help="decode samples from the prior (N(0, I), or a VampPrior) to a picture of a grid",
    )
    generate.add_argument("run_dir")
    generate.add_argument("-n", type=int, default=64, help="how many images (default 64)")
    generate.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the picture to write (replaced if it exists), in the format its extension names: "
        f"{', '.join(plots.PICTURE_SUFFIXES)}",
    )
    generate.add_argument("--seed", type=int, default=None, help="seed of the latent samples")
    generate.add_argument(
        "--label",
        help="a conditional model's label: a class name or number (cat, 3; a class folder's "
        "name wins over a number), or factors as NAME=LEVEL pairs, each factor once "
        "(shape=2,scale=5; the others drawn at random); default: each class in turn",
    )

    info = commands.add_parser(
        "info", help="versions, CPU features, devices and threads: paste it into a bug report"
    )
    info.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("datasets", help="the data sets available offline here, and where")
    return parser


def _train(args) -> int:
    verbose = 0 if args.quiet else "auto"
    if args.resume:
        if args.out:
            raise _UsageError("--out cannot be used with --resume (the run folder is RUN_DIR)")
        folder = run.resume(args.resume, args.set, verbose=verbose, finish=report.finish_run)
    else:
        config = Config.load(args.config, args.set)
        out = args.out or run.default_run_dir(args.config)
        folder = run.train(config, out, verbose=verbose, finish=report.finish_run)
    placement = distribute.active_run()
    if not placement.chief:  # process 0 reports and writes the folder
        print(f"process {placement.cluster.process_id} of {placement.cluster.num_processes}: "
              f"done ({placement.describe()}); process 0 wrote {folder.path}")  # fmt: skip
        return 0
    rows = run.read_metrics(folder.metrics)
    if rows:
        last = rows[-1]
        print(
            f"epoch {last['epoch']}: loss {last['loss']:.4f}  bce {last['bce']:.4f}  "
            f"kl {last['kl']:.5f}  ({last['seconds']:.1f} s/epoch)"
        )
    if placement.distributed:
        print(f"trained on: {placement.describe()}")
    print(f"run folder: {folder.path}\nplots:      {folder.plots}")
    return 0


def _evaluate(args) -> int:
    if args.disentanglement:
        return _score(args)
    if args.score_samples is not None:
        raise VaekitError("--score-samples: only with --disentanglement")
    result = evaluation.evaluate_run(
        args.run_dir,
        samples=args.samples,
        split=args.split,
        limit=args.limit,
        batch_size=args.batch_size,
        seed=args.seed,
        max_points=args.max_points,
        out=args.out,
        verbose=0 if args.quiet else 1,
    )
    print(evaluation.format_table(result))
    print(f"written to {args.out or Path(args.run_dir) / evaluation.FILE_NAME}")
    return 0


def _score(args) -> int:
    samples = args.score_samples
    if samples is not None and (samples < 2):
        raise VaekitError(f"--score-samples: got {samples}, expected an integer >= 2")
    result = evaluation.score_run(
        args.run_dir,
        split=args.split,
        limit=args.limit,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        settings=evaluation.Settings() if samples is None else evaluation.Settings.scaled(samples),
    )
    print(evaluation.format_scores(result))
    print(f"written to {args.out or Path(args.run_dir) / evaluation.SCORES_FILE}")
    return 0


def _plot(args) -> int:
    for path in figures.plot(args.run_dir, verbose=0 if args.quiet else 1):
        print(path)
    return 0


def _report(args) -> int:
    path = report.write_report(
        args.run_dir,
        args.out,
        report.DEFAULT_POINTS if args.points is None else args.points,
        report.DEFAULT_GRID if args.grid is None else args.grid,
        verbose=0 if args.quiet else 1,
        notify=args.points is not None or args.grid is not None,  # values the user chose
    )
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _compare(args) -> int:
    path = compare_runs(args.run_dirs, args.out)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _generate(args) -> int:
    print(figures.generate(args.run_dir, args.n, args.out, seed=args.seed, label=args.label))
    return 0


def _info(args) -> int:
    report = hardware.report()
    print(json.dumps(report, indent=2) if args.json else hardware.format_report(report))
    return 0


def _datasets(args) -> int:
    rows = datasets.available()
    width = max(len(name) for name, _, _ in rows)
    for name, where, what in rows:
        print(f"{name:<{width}}  {what}\n{'':<{width}}  {where}")
    print(
        "\nor data.dataset: a path to an .npz file (x_train, x_test, optional y_train, y_test),\n"
        "or to a folder of images (class subfolders for labels; train/ and test/ to split)"
    )
    return 0


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "plot": _plot,
    "report": _report,
    "compare": _compare,
    "generate": _generate,
    "info": _info,
    "datasets": _datasets,
}


class _UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user mistake)."""
    args = _parser().parse_args(argv)  # argparse itself exits 2 on bad usage
    with _warnings_as_lines():
        return _run(args)


def _run(args) -> int:
    """The command, with vaekit's errors as one line each and their exit codes."""
    try:
        return COMMANDS[args.command](args)
    except _UsageError as error:
        print(f"vaekit: error: {error}", file=sys.stderr)
        return 2
    except VaekitError as error:
        print(f"vaekit: error: {error}", file=sys.stderr)
        return _out_of_memory_exit() if isinstance(error, OutOfMemory) else error.exit_code
    except Interrupted as stop:
        name = signal.Signals(stop.signal_number).name
        run_dir = Path(stop.checkpoint).parent.parent if stop.checkpoint else "RUN_DIR"
        print(
            f"vaekit: stopped by {name}; checkpoint {stop.checkpoint}\n"
            f"resume with: vaekit train --resume {run_dir}",
            file=sys.stderr,
        )
        return 128 + stop.signal_number
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as error:  # an allocation that failed where no estimate caught it
        if not is_out_of_memory(error):
            raise
        detail = one_line(error)[:160] if str(error) else type(error).__name__
        hint = OUT_OF_MEMORY_HINTS.get(args.command, "close other programs, or use more memory")
        print(
            f"vaekit: error: out of memory in vaekit {args.command} ({detail}); {hint}",
            file=sys.stderr,
        )
        return _out_of_memory_exit()


def _out_of_memory_exit() -> int:
    """The exit code after an allocation failed; marks the process to leave without clean-up."""
    global _LEAVE_AT_ONCE
    _LEAVE_AT_ONCE = True
    return OutOfMemory.exit_code


# After a failed allocation TensorFlow's runtime can hold a lock that its own clean-up at exit
# waits on forever (seen: a hang in TF_DeleteGraph, after std::bad_alloc in a training step), so the
# console script then leaves with os._exit, once its output is flushed.
_LEAVE_AT_ONCE = False


def console() -> None:
    """The ``vaekit`` console script: :func:`main`, then exit with its code."""
    code = main()
    if _LEAVE_AT_ONCE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


# What to lower when a command runs out of memory (training says so itself, naming its folder).
OUT_OF_MEMORY_HINTS = {
    "evaluate": "lower --max-points (latent points decoded at a time) or --batch-size",
    "report": "lower --grid or --points",
    "generate": "lower -n",
    "plot": "the plots decode at most 10,000 test images; close other programs",
}


@contextlib.contextmanager
def _warnings_as_lines():
    """Warnings as one ``vaekit: warning:`` line each while a command runs; then as they were
    (a test or notebook that calls :func:`main` keeps its own)."""
    original = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = original


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # Notices (a skipped damaged checkpoint, rescaled integer images) as one readable line.
    print(f"vaekit: warning: {message}", file=file or sys.stderr)


if __name__ == "__main__":
    console()
