"""The benchmark's output: a header on the machine and software, and Markdown tables.

Everything here takes the workers' result dicts (see benchmarks/workers.py) and returns text, ready
to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from importlib import metadata

from vaekit import hardware

EPOCH_IMAGES = 60_000  # one MNIST training epoch


def _version(*distributions: str) -> str:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def machine() -> dict:
    """Date, platform, CPU, cores and the versions that matter, for the header and the JSON."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "platform": platform.platform(),
        "cpu": hardware.cpu_line(),
        "torch_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "keras": _version("keras"),
        "tensorflow": _version("tensorflow", "tensorflow-cpu"),
        "torch": _version("torch"),
        "vaekit": _version("vaekit"),
    }


def header(title: str, info: dict, command: str, notes: list[str], runs: list[dict]) -> str:
    """The lines above a table: date, machine, software, command line and ``notes``."""
    gpus = sorted({run["device_name"] for run in runs if run.get("device_name")})
    lines = [
        f"## {title} ({info['date']})",
        "",
        f"- Machine: {info['platform']}; {info['cores']} cores ({info['usable_cores']} usable); "
        f"GPU: {', '.join(gpus) or 'none used'}",
        f"- CPU: {info['cpu']}"
        + (
            f"; PyTorch's kernels capped at {info['torch_cpu_capability']} (ATEN_CPU_CAPABILITY)"
            if info.get("torch_cpu_capability")
            else ""
        ),
        f"- Software: Python {info['python']}, Keras {info['keras']}, TensorFlow "
        f"{info['tensorflow']}, torch {info['torch']}, vaekit {info['vaekit']}",
        f"- Command: `{command}`",
        *(f"- {note}" for note in notes),
    ]
    return "\n".join(lines)


def markdown_table(columns: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A Markdown table; the first ``text_columns`` are left-aligned, the numbers right-aligned."""
    align = ["---" if i < text_columns else "---:" for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def combine(runs: list[dict]) -> dict:
    """One implementation's repeats: median, min and max ms/step and what follows from them."""
    good = [run for run in runs if "error" not in run]
    if not good:
        error = runs[-1]["error"] if runs else "not run"
        return {"error": error.replace("|", "/")}  # a "|" would split the Markdown cell
    times = [run["ms_per_step"] for run in good]
    first = good[0]
    median, batch = statistics.median(times), first["batch"]
    samples_per_s = batch / median * 1e3
    return {
        "backend": _backend(first),
        "precision": first["precision"],
        "batch": batch,
        "data": first["data"],
        "ms_median": median,
        "ms_min": min(times),
        "ms_max": max(times),
        "us_per_image": median * 1e3 / batch,
        "samples_per_s": samples_per_s,
        "epoch_s": math.ceil(EPOCH_IMAGES / batch) * median / 1e3,
        "peak_rss_mib": max(run["peak_rss_mib"] for run in good),
        "peak_device_mib": max((run.get("peak_device_mib") or 0 for run in good), default=0),
        "gflop_per_image": first["train_flops_per_image"] / 1e9,
        "gflop_per_s": first["train_flops_per_image"] * samples_per_s / 1e9,
        "first_loss": first["first_loss"],
        "repeats": len(good),
        "failed": len(runs) - len(good),
    }


def _backend(run: dict) -> str:
    text = f"{run['backend']}/{run['device']}"
    return text + ", XLA" if run.get("jit_compile") else text


def throughput_table(rows: list[tuple[str, dict]], reference: dict) -> str:
    """The main table: one row per implementation, its speed relative to ``reference``."""
    columns = [
        "implementation", "backend", "precision", "ms/step (median)", "min", "max",
        "samples/s", "s/epoch (60k)", "peak RSS (MiB)", "GFLOP/s", "speed vs vaekit",
        "step-1 loss",
    ]  # fmt: skip
    gpu = any(s.get("peak_device_mib") for _, s in rows)
    if gpu:
        columns.insert(9, "peak GPU (MiB)")
    base = reference.get("ms_median")
    lines = []
    for name, s in rows:
        name += f" ({s['failed']} run(s) failed)" if s.get("failed") else ""
        if "error" in s:
            lines.append([name, f"failed: {s['error']}"] + [""] * (len(columns) - 2))
            continue
        line = [
            name, s["backend"], s["precision"], f"{s['ms_median']:.2f}", f"{s['ms_min']:.2f}",
            f"{s['ms_max']:.2f}", f"{s['samples_per_s']:,.0f}", f"{s['epoch_s']:.1f}",
            f"{s['peak_rss_mib']:,.0f}", f"{s['gflop_per_s']:.1f}",
            f"{base / s['ms_median']:.2f}x" if base else "n/a", f"{s['first_loss']:.4f}",
        ]  # fmt: skip
        if gpu:
            line.insert(9, f"{s['peak_device_mib']:,.0f}")
        lines.append(line)
    return markdown_table(columns, lines, text_columns=3)


def scaling_table(rows: list[tuple[str, dict]], reference: dict) -> str:
    """The scaling table: one row per configuration, time per image relative to ``reference``."""
    columns = [
        "config", "data", "batch", "ms/step (median)", "µs/image",
        "time/image vs reference", "GFLOP/image", "GFLOP/s",
    ]  # fmt: skip
    base = reference.get("us_per_image")
    lines = []
    for label, s in rows:
        label += f" ({s['failed']} run(s) failed)" if s.get("failed") else ""
        if "error" in s:
            lines.append([label, "", f"failed: {s['error']}"] + [""] * (len(columns) - 3))
            continue
        lines.append(
            [
                label,
                s["data"],
                str(s["batch"]),
                f"{s['ms_median']:.2f}",
                f"{s['us_per_image']:.1f}",
                f"{s['us_per_image'] / base:.2f}" if base else "n/a",
                f"{s['gflop_per_image']:.4f}",
                f"{s['gflop_per_s']:.1f}",
            ]  # fmt: skip
        )
    return markdown_table(columns, lines, text_columns=2)
