"""What this machine offers vaekit: CPU model and vector features, GPUs, threads, versions.

The CPU features that decide speed here are AVX2, AVX-512 and native bfloat16 arithmetic
(AVX512_BF16 or AMX). Where bfloat16 is not native, oneDNN emulates it and a ``mixed_bfloat16``
training step runs many times slower than float32. oneDNN can also be capped below what the CPU
has with ``ONEDNN_MAX_CPU_ISA`` (e.g. ``AVX2``), and the cap counts here as the CPU would.

:func:`report` gathers everything that ``vaekit info`` prints, the first thing to paste into a
bug report.

Example:
    >>> cpu = CpuInfo.parse("model name : AMD EPYC 7B13\\nflags : sse4_2 avx avx2 fma\\n")
    >>> cpu.model, cpu.features()
    ('AMD EPYC 7B13', ['AVX2'])
    >>> native_bfloat16(cpu, isa_cap=None)
    (False, 'the CPU (AMD EPYC 7B13) has neither AVX512_BF16 nor AMX')
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras

from vaekit import backends
from vaekit.errors import ConfigError
from vaekit.version import __version__

CPUINFO = Path("/proc/cpuinfo")

# Flags of /proc/cpuinfo that matter for the kernels vaekit runs, and how `vaekit info` names them.
FEATURES = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_bf16": "AVX512_BF16",
    "amx_bf16": "AMX",
}

# oneDNN's ISA levels, lowest first (ONEDNN_MAX_CPU_ISA values; aliases share a rank).
ISA_LEVELS = {
    "SSE41": 0,
    "AVX": 1,
    "AVX2": 2,
    "AVX2_VNNI": 3,
    "AVX2_VNNI_2": 4,
    "AVX512_CORE": 5,
    "AVX512_CORE_VNNI": 6,
    "AVX512_CORE_BF16": 7,
    "AVX512_CORE_FP16": 8,
    "AVX10_1_512": 8,
    "AVX512_CORE_AMX": 9,
    "AVX10_1_512_AMX": 9,
    "AVX512_CORE_AMX_FP16": 10,
    "AVX10_1_512_AMX_FP16": 10,
}
# The lowest oneDNN level that computes in bfloat16 natively, per CPU flag that provides it.
BF16_LEVELS = {"avx512_bf16": "AVX512_CORE_BF16", "amx_bf16": "AVX512_CORE_AMX"}


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as Linux describes it: model name, flags and logical processors.

    Args:
        model: the model name ("Intel(R) Xeon(R) Processor", "AMD EPYC 7B13").
        flags: the lower-case feature flags (``avx2``, ``avx512f``, ``amx_bf16``, ...).
        processors: logical processors listed.
    """

    model: str
    flags: frozenset = field(default_factory=frozenset)
    processors: int = 0

    @classmethod
    def parse(cls, text: str) -> CpuInfo:
        """Read the text of ``/proc/cpuinfo`` (x86 ``flags`` or Arm ``Features`` lines)."""
        model, flags, processors = "", set(), 0
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "processor":
                processors += 1
            elif key in ("model name", "hardware", "cpu model") and not model:
                model = value.strip()
            elif key in ("flags", "features"):
                flags.update(value.split())
        return cls(model or platform.processor() or "unknown", frozenset(flags), processors)

    @classmethod
    def read(cls, path: str | Path = CPUINFO) -> CpuInfo:
        """This machine's CPU (model from :mod:`platform` where there is no ``/proc/cpuinfo``)."""
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return cls(platform.processor() or platform.machine() or "unknown")

    def features(self) -> list[str]:
        """The speed-relevant features present, named as in :data:`FEATURES`."""
        return [name for flag, name in FEATURES.items() if flag in self.flags]

    def kind(self) -> str:
        """One of the CPU kinds vaekit's figures are given for."""
        if self.flags & set(BF16_LEVELS):
            return "AVX-512 with native bfloat16"
        if "avx512f" in self.flags:
            return "AVX-512 without bfloat16"
        if "avx2" in self.flags:
            return "AVX2 only, bfloat16 emulated"
        return "no AVX2"


def isa_cap(environ=None) -> str | None:
    """oneDNN's ISA cap from ``ONEDNN_MAX_CPU_ISA`` (or the older ``DNNL_MAX_CPU_ISA``), if any."""
    environ = os.environ if environ is None else environ
    value = environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA")
    value = (value or "").strip().upper()
    return None if value in ("", "ALL", "DEFAULT") else value


def native_bfloat16(cpu: CpuInfo, isa_cap: str | None) -> tuple[bool, str]:
    """Whether oneDNN computes bfloat16 natively on this CPU, and why (or why not)."""
    present = [flag for flag in BF16_LEVELS if flag in cpu.flags]
    if not present:
        return False, f"the CPU ({cpu.model}) has neither AVX512_BF16 nor AMX"
    names = " and ".join(FEATURES[flag] for flag in present)
    if isa_cap is not None:
        cap = ISA_LEVELS.get(isa_cap)
        if cap is None:
            return False, f"ONEDNN_MAX_CPU_ISA={isa_cap} is not an ISA level vaekit knows"
        if all(cap < ISA_LEVELS[BF16_LEVELS[flag]] for flag in present):
            return False, f"ONEDNN_MAX_CPU_ISA={isa_cap} keeps oneDNN from the CPU's {names}"
    return True, f"the CPU ({cpu.model}) has {names}"


def bfloat16_unavailable(cpu: CpuInfo, isa_cap: str | None, environ=None) -> str | None:
    """Why TensorFlow cannot compute in bfloat16 on this CPU at all, or None where it can.

    TensorFlow hands bfloat16 convolutions and matrix products to oneDNN on every CPU with
    AVX-512, and oneDNN computes bfloat16 only at its ISA level AVX512_CORE or above. Capped
    lower (``ONEDNN_MAX_CPU_ISA=AVX2``, the usual way to make an AVX-512 machine act as an AVX2
    one), oneDNN refuses them ("could not create a primitive descriptor") and the process can
    crash. A real AVX2 CPU differs: TensorFlow keeps bfloat16 away from oneDNN there and
    emulates it (slowly). ``TF_ENABLE_ONEDNN_OPTS=0`` takes the same emulated path.

    Example:
        >>> xeon = CpuInfo.parse("model name : Xeon\\nflags : avx2 avx512f amx_bf16\\n")
        >>> bfloat16_unavailable(xeon, "AVX2", environ={}) is not None
        True
        >>> bfloat16_unavailable(xeon, "AVX2", environ={"TF_ENABLE_ONEDNN_OPTS": "0"}) is None
        True
    """
    environ = os.environ if environ is None else environ
    onednn = environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    capped_low = isa_cap is not None and ISA_LEVELS.get(isa_cap, 0) < ISA_LEVELS["AVX512_CORE"]
    if onednn and capped_low and "avx512f" in cpu.flags:
        return (
            f"ONEDNN_MAX_CPU_ISA={isa_cap} keeps oneDNN below AVX512_CORE, the lowest level at "
            "which it computes bfloat16, while TensorFlow hands it bfloat16 on this AVX-512 CPU"
        )
    return None


def gpus() -> list:
    """The GPUs the Keras backend sees, as ``(name, (major, minor) compute capability)``."""
    return backends.current.gpus()


def no_gpu_reason() -> str:
    """Why the backend sees no GPU (its build, or no device found)."""
    return backends.current.no_gpu_reason()


THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def threads() -> dict:
    """Cores and the backend's thread-pool sizes (0: the backend picks, one per core)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    found = {"cores": os.cpu_count(), "usable cores": usable}
    found.update(backends.current.threads())
    found.update({name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ})
    return found


def _backend_version() -> str:
    name = keras.backend.backend()  # also the name of the backend's module
    return f"{name} {getattr(sys.modules.get(name), '__version__', '?')}"


def cpu_line(cpu: CpuInfo | None = None, environ=None) -> str:
    """One line naming the CPU, its features and any oneDNN cap: the header of every figure."""
    cpu = cpu or CpuInfo.read()
    cap = isa_cap(environ)
    capped = f"; oneDNN capped at {cap} (ONEDNN_MAX_CPU_ISA)" if cap else ""
    cores = f", {cpu.processors} logical CPUs" if cpu.processors else ""
    features = ", ".join(cpu.features()) or "no AVX2"
    return f"{cpu.model}{cores}; {features}{capped}"


def choose_precision(
    requested: str,
    device: str,
    found_gpus: list,
    cpu: CpuInfo,
    cap: str | None,
    environ=None,
    backend: str | None = None,
) -> tuple[str, str | None]:
    """The precision to train in, and a warning when the request will run slowly.

    ``auto`` picks ``mixed_bfloat16`` where bfloat16 is native (a CPU with AVX512_BF16 or AMX
    that oneDNN may use, a GPU of compute capability 8.0 or newer) and ``float32`` elsewhere.
    An explicit ``mixed_bfloat16`` is kept where it is not native, with a warning, unless
    TensorFlow cannot run it at all (:func:`bfloat16_unavailable`): that is a ``ConfigError``.

    Example:
        >>> epyc = CpuInfo.parse("model name : AMD EPYC 7B13\\nflags : avx2\\n")
        >>> choose_precision("auto", "cpu", [], epyc, None)
        ('float32', None)
        >>> choose_precision("auto", "gpu", [("NVIDIA H100", (9, 0))], epyc, None)
        ('mixed_bfloat16', None)
    """
    backend = backend or keras.backend.backend()
    if requested == "mixed_bfloat16" and device == "cpu" and backend == "tensorflow":
        blocked = bfloat16_unavailable(cpu, cap, environ)
        if blocked:
            raise ConfigError(
                f"train.precision: mixed_bfloat16 cannot run here: {blocked}; use float32 or "
                "auto, unset ONEDNN_MAX_CPU_ISA, or set TF_ENABLE_ONEDNN_OPTS=0"
            )
    if device == "gpu":
        capabilities = [capability for _, capability in found_gpus if capability]
        native = bool(capabilities) and min(capabilities) >= (8, 0)
        why = "a GPU of compute capability below 8.0" if not native else ""
    else:
        native, why = native_bfloat16(cpu, cap)
    if requested == "auto":
        return ("mixed_bfloat16" if native else "float32"), None
    if requested == "mixed_bfloat16" and not native:
        return requested, (
            f"train.precision: mixed_bfloat16 without native bfloat16 ({why}): it is emulated "
            "and trains much slower than float32 (about 12x on an AVX2-only AMD EPYC); "
            "use float32 or auto"
        )
    return requested, None


def report(environ=None) -> dict:
    """Everything ``vaekit info`` prints, as an ordered mapping of sections."""
    cpu = CpuInfo.read()
    cap = isa_cap(environ)
    native, why = native_bfloat16(cpu, cap)
    found_gpus = gpus()
    device = "gpu" if found_gpus else "cpu"
    precision, _ = choose_precision("auto", device, found_gpus, cpu, cap, environ)
    return {
        "versions": {
            "vaekit": __version__,
            "keras": keras.__version__,
            "backend": _backend_version(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "cpu": {
            "model": cpu.model,
            "logical cpus": cpu.processors or os.cpu_count(),
            "features": ", ".join(cpu.features()) or "none of AVX2, AVX-512, AVX512_BF16, AMX",
            "kind": cpu.kind(),
            "oneDNN ISA cap": cap or "none",
            "native bfloat16": f"{'yes' if native else 'no'}: {why}",
        },
        "devices": {
            "keras backend": f"{keras.backend.backend()} ({backends.chosen_by()})",
            "gpus": ", ".join(_gpu_name(g) for g in found_gpus) or f"none: {no_gpu_reason()}",
            "training device (auto)": device,
        },
        "threads": threads(),
        "precision": {"train.precision: auto chooses": precision},
    }


def _gpu_name(gpu) -> str:
    name, capability = gpu
    return f"{name} (compute capability {'.'.join(map(str, capability))})" if capability else name


def format_report(sections: dict) -> str:
    """The report as aligned ``key: value`` lines under section headings."""
    width = max(len(key) for values in sections.values() for key in values)
    lines = []
    for title, values in sections.items():
        lines.append(f"{title}:")
        lines.extend(f"  {key:<{width}}  {value}" for key, value in values.items())
    return "\n".join(lines)
