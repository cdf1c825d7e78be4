"""The GPU run's figures as the rows of ``docs/benchmarks.md`` and ``docs/results.md``.

``bash benchmarks/gpu_backends.sh OUT`` brings back ``OUT/steps.tsv`` and ``OUT/gpu_run.tgz``;
this reads them and prints two Markdown blocks, each set beside its target:

    python -m benchmarks.gpu_report OUT            # print both blocks
    python -m benchmarks.gpu_report OUT --write    # and put them into the docs (a GPU run only)

The docs hold each block between ``<!-- gpu_report:NAME -->`` and ``<!-- /gpu_report -->``
(NAME: benchmarks, results); ``--write`` replaces what is between, and refuses a rehearsal's
figures, which are the CPU's. The targets (issue 27): the reference epoch in at most 0.25 s on
the fastest backend, at least 4x the plain eager PyTorch loop on the same GPU, and the reference
config's 6 epochs within 0.003 of the seed table (docs/benchmarks.md, section 4, float32 row,
read from there).

Example (a folder with no run in it is refused in one line):
    >>> main(["no/such/folder"])
    2
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import statistics
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = {"benchmarks": ROOT / "docs" / "benchmarks.md", "results": ROOT / "docs" / "results.md"}
EPOCH_TARGET_S = 0.25
SPEEDUP_TARGET = 4.0
SEED_TOLERANCE = 0.003
SEED_TERMS = ("loss", "bce", "kl")
BINARIZED = {"binarized_vae": "VAE (ELBO)", "binarized_iwae5": "IWAE, k = 5"}
COMMAND = "bash benchmarks/gpu_backends.sh OUT"


class ReportError(Exception):
    """A folder that is not what gpu_backends.sh brings back: one line for the user."""


@dataclass
class Run:
    """What one ``gpu_backends.sh`` call brought back, read from its files."""

    files: dict  # name in gpu_run.tgz -> bytes
    steps: list  # (step, rc, seconds)

    def text(self, name: str) -> str | None:
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", errors="replace")

    def json(self, name: str):
        text = self.text(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def csv(self, name: str) -> list[dict]:
        text = self.text(name)
        return list(csv.DictReader(io.StringIO(text))) if text else []

    @property
    def device(self) -> dict:
        return self.json("device.json") or {}

    @property
    def rehearsal(self) -> bool:
        return bool(self.device.get("rehearsal"))

    def failed(self, step: str) -> str | None:
        """Why STEP has no figures: not run, or its exit code and its log's last line."""
        found = [(rc, seconds) for name, rc, seconds in self.steps if name == step]
        if not found:
            return f"step {step} was not run"
        rc, seconds = found[-1]
        if rc == 0:
            return None
        log = self.text(f"{step}.log") or ""
        last = next((line for line in reversed(log.splitlines()) if line.strip()), "")
        return f"step {step} failed (exit code {rc} after {seconds} s){': ' + last if last else ''}"


def read_run(folder: Path) -> Run:
    """``folder``: OUT as it came back (steps.tsv and gpu_run.tgz), or the archive unpacked."""
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder (expected what gpu_backends.sh OUT wrote)")
    steps_file = folder / "steps.tsv"
    if not steps_file.is_file():
        raise ReportError(f"{folder}: no steps.tsv in it, so no gpu_backends.sh run wrote it")
    steps = []
    for row in csv.DictReader(io.StringIO(steps_file.read_text()), delimiter="\t"):
        try:
            steps.append((row["step"], int(row["rc"]), int(row["seconds"])))
        except (KeyError, TypeError, ValueError) as error:
            raise ReportError(f"{steps_file}: a damaged row {row} ({error})") from None
    files = {}
    archive = folder / "gpu_run.tgz"
    if archive.is_file():
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        files[member.name.removeprefix("./")] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ReportError(f"{archive}: not a readable archive ({error})") from None
    else:
        files = {
            str(path.relative_to(folder)): path.read_bytes()
            for path in folder.rglob("*")
            if path.is_file()
        }
    if "device.json" not in files:
        raise ReportError(f"{folder}: no device.json (the info step did not run)")
    return Run(files, steps)


def seed_table(path: Path = DOCS["benchmarks"]) -> dict[str, float]:
    """The seed table's float32 row (docs/benchmarks.md, section 4): loss, bce, kl."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index("## 4. ") :]
    row = re.search(r"^\| float32 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M)
    if not row:
        raise ReportError(f"{path}: section 4 has no float32 row (the seed table)")
    return dict(zip(SEED_TERMS, map(float, row.groups()), strict=True))


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _ms(summary: dict) -> str:
    return f"{summary['ms_median']:.2f} ({summary['ms_min']:.2f}-{summary['ms_max']:.2f})"


def _where(run: Run) -> str:
    device, versions = run.device, run.device.get("versions", {})
    gpus = ", ".join(device.get("gpus") or []) or "no GPU"
    shown = ", ".join(f"{name} {versions[name]}" for name in ("vaekit", "keras", "jax", "torch")
                      if name in versions)  # fmt: skip
    return f"{gpus}; {device.get('date', 'date unknown')}; Python {versions.get('python')}, {shown}"


def throughput_rows(run: Run) -> list[str]:
    """The table of every implementation on each backend, and the two speed targets."""
    data = run.json("throughput.json")
    if not data:
        return [f"Throughput: not measured ({run.failed('throughput') or 'no throughput.json'})."]
    summaries = [s for s in data["summary"] if "error" not in s]
    failed = [f"{s['case']['label']}: {s['error']}" for s in data["summary"] if "error" in s]
    torch_loop = next((s for s in summaries if s["case"]["implementation"] == "plain-torch"), None)
    lines = [
        f"`{data['command']}` ({data['settings']['repeats']} interleaved rounds of "
        f"{data['settings']['steps']} timed steps, batch 128, `configs/mnist_seed.yaml`):",
        "",
        "| implementation | backend | ms/step (median, min-max) | s/epoch (469 steps) | "
        "samples/s | vs plain eager PyTorch |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        ratio = f"{torch_loop['ms_median'] / s['ms_median']:.2f}x" if torch_loop else "-"
        lines.append(
            f"| {s['case']['label']} | {s['backend']} | {_ms(s)} | {s['epoch_s']:.3f} | "
            f"{s['samples_per_s']:,.0f} | {ratio} |"
        )
    lines += [f"- failed: {line}" for line in failed]
    vaekit = [s for s in summaries if s["case"]["implementation"] == "vaekit"]
    if vaekit:
        best = min(vaekit, key=lambda s: s["ms_median"])
        lines += [
            "",
            f"- Reference epoch, fastest backend ({best['backend']}): {best['epoch_s']:.3f} s "
            f"(target at most {EPOCH_TARGET_S} s: {_met(best['epoch_s'] <= EPOCH_TARGET_S)}).",
        ]
        if torch_loop:
            speedup = torch_loop["ms_median"] / best["ms_median"]
            lines.append(
                f"- Against the plain eager PyTorch loop on the same machine: {speedup:.2f}x "
                f"(target at least {SPEEDUP_TARGET:g}x: {_met(speedup >= SPEEDUP_TARGET)})."
            )
    return lines


def batch_rows(run: Run) -> list[str]:
    """vaekit on JAX at larger batches: the one fastest per image."""
    rows = []
    for name in sorted(run.files, key=lambda n: int(re.sub(r"\D", "", n) or 0)):
        if re.fullmatch(r"batch-\d+\.json", name):
            for s in (run.json(name) or {}).get("summary", []):
                if "error" not in s:
                    rows.append(s)
    if not rows:
        return [f"Batch sizes: not measured ({run.failed('batches') or 'no batch-*.json'})."]
    best = min(rows, key=lambda s: s["us_per_image"])
    lines = [
        "| batch | ms/step (median) | µs/image | s/epoch (60,000 images) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {s['batch']} | {s['ms_median']:.2f} | {s['us_per_image']:.1f} | {s['epoch_s']:.3f} |"
        for s in rows
    ]
    lines += ["", f"- Fastest per image: batch {best['batch']} ({best['us_per_image']:.1f} µs)."]
    problem = run.failed("batches")
    return lines + ([f"- {problem}"] if problem else [])


def seed_rows(run: Run, reference: dict[str, float]) -> list[str]:
    """The reference config's 6 epochs on JAX against the seed table."""
    metrics = run.csv("runs/mnist_seed/metrics.csv")
    if not metrics:
        return [f"Six epochs: not measured ({run.failed('seed') or 'no metrics.csv'})."]
    last = metrics[-1]
    seconds = [float(row["seconds"]) for row in metrics if row.get("seconds")]
    cells = []
    worst = 0.0
    for term in SEED_TERMS:
        value = float(last[term])
        worst = max(worst, abs(value - reference[term]))
        cells.append(f"{term} {value:.5f} (seed table {reference[term]:.5f})")
    lines = [
        f"- `configs/mnist_seed.yaml` on JAX, epoch {last['epoch']} of 6: {', '.join(cells)}; "
        f"largest difference {worst:.5f} (target at most {SEED_TOLERANCE}: "
        f"{_met(len(metrics) == 6 and worst <= SEED_TOLERANCE)}).",
    ]
    if seconds:
        lines.append(
            f"- Seconds per epoch, validation included: median {statistics.median(seconds):.2f} "
            f"(the first, with compilation: {seconds[0]:.2f})."
        )
    spread = (run.text("spread.txt") or "").strip()
    spread_metrics = run.csv("runs/mnist_seed_spread/metrics.csv")
    if spread_metrics:
        final = spread_metrics[-1]
        spread += f": epoch {final['epoch']}, loss {float(final['loss']):.5f}"
    lines.append(f"- Two devices (`train.distribute: data_parallel`): {spread or 'not run'}.")
    return lines


def binarized_rows(run: Run) -> list[str]:
    """configs/binarized_mnist.yaml trained for the step's seconds: test NLL in nats."""
    lines = [
        "| model | epochs | seconds trained | test NLL, nats (K, images) | test ELBO bound | "
        "validation nelbo |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, label in BINARIZED.items():
        metrics = run.csv(f"{name}.metrics.csv")
        result = run.json(f"{name}.evaluation.json") or {}
        nats = result.get("nats_per_image") or {}
        epochs = metrics[-1]["epoch"] if metrics else "0"
        trained = sum(float(row["seconds"]) for row in metrics if row.get("seconds"))
        bound = metrics[-1].get("val_nelbo") if metrics else None
        if nats:
            nll = (f"{nats['iwae']['mean']:.2f} ± {nats['iwae'].get('sem', math.nan):.2f} "
                   f"(K = {result['samples']:,}, {result['images']:,})")  # fmt: skip
            elbo = f"{nats['elbo']['mean']:.2f}" if "elbo" in nats else "-"
        else:
            nll, elbo = f"not evaluated ({run.failed('binarized') or 'no result'})", "-"
        shown_bound = f"{float(bound):.2f}" if bound else "-"
        lines.append(f"| {label} | {epochs} | {trained:.0f} | {nll} | {elbo} | {shown_bound} |")
    return lines


def blocks(run: Run, reference: dict[str, float]) -> dict[str, str]:
    """The two Markdown blocks, by the docs they belong in."""
    heading = (
        f"REHEARSAL on the CPU ({run.device.get('cpu')}), a tenth of the device run: "
        "not GPU figures."
        if run.rehearsal
        else f"Measured by `{COMMAND}` on"
    )
    where = f"{heading} {_where(run)}."
    benchmarks = [where, "", *throughput_rows(run), "", *batch_rows(run), "",
                  *seed_rows(run, reference)]  # fmt: skip
    results = [where, "", *binarized_rows(run)]
    return {"benchmarks": "\n".join(benchmarks), "results": "\n".join(results)}


def write_block(path: Path, name: str, body: str) -> None:
    """Replace what is between ``<!-- gpu_report:NAME -->`` and the next end marker."""
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- gpu_report:{name} -->", "<!-- /gpu_report -->"
    if start not in text:
        raise ReportError(f"{path}: no {start} marker to write between")
    head, rest = text.split(start, 1)
    if end not in rest:
        raise ReportError(f"{path}: {start} has no {end} after it")
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_report",
        description="The rows of docs/benchmarks.md and docs/results.md from a GPU run's OUT.",
    )
    parser.add_argument("out", type=Path, help="what gpu_backends.sh OUT brought back")
    parser.add_argument("--write", action="store_true", help="put the blocks into the docs")
    args = parser.parse_args(argv)
    try:
        run = read_run(args.out)
        made = blocks(run, seed_table())
        if args.write and run.rehearsal:
            raise ReportError(
                f"{args.out} is a rehearsal on the CPU: its figures are not GPU figures, so "
                "--write leaves the docs alone (run it on a GPU machine's OUT)"
            )
        for name, body in made.items():
            print(f"<!-- {DOCS[name].relative_to(ROOT)} -->\n{body}\n")
            if args.write:
                write_block(DOCS[name], name, body)
    except ReportError as error:
        print(f"gpu_report: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
