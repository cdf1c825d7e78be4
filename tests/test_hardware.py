"""CPU features, oneDNN caps and the precision ``auto`` picks, on fixed /proc/cpuinfo texts."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from support import CONFIG, VAEKIT

from vaekit import hardware
from vaekit.errors import ConfigError
from vaekit.hardware import CpuInfo, choose_precision, native_bfloat16

DATA = Path(__file__).parent / "data"
XEON = CpuInfo.read(DATA / "cpuinfo_xeon_amx.txt")
EPYC = CpuInfo.read(DATA / "cpuinfo_epyc_zen3.txt")


def test_both_cpu_kinds_are_read_from_their_cpuinfo():
    assert (XEON.model, XEON.processors) == ("Intel(R) Xeon(R) Processor", 2)
    assert XEON.features() == ["AVX2", "AVX-512", "AVX512_BF16", "AMX"]
    assert XEON.kind() == "AVX-512 with native bfloat16"
    assert (EPYC.model, EPYC.processors) == ("AMD EPYC 7B13", 2)
    assert EPYC.features() == ["AVX2"]
    assert EPYC.kind() == "AVX2 only, bfloat16 emulated"


def test_other_layouts_and_a_missing_file():
    arm = CpuInfo.parse("processor : 0\nFeatures : fp asimd bf16\nCPU part : 0xd40\n")
    assert arm.flags == {"fp", "asimd", "bf16"} and arm.features() == []
    avx512 = CpuInfo.parse("model name : Xeon Gold 6148\nflags : avx2 avx512f\n")
    assert avx512.kind() == "AVX-512 without bfloat16"
    assert CpuInfo.read(DATA / "no_such_file").model  # falls back to platform's name


@pytest.mark.parametrize(
    ("cpu", "cap", "native", "words"),
    [
        (XEON, None, True, "has AVX512_BF16 and AMX"),
        (XEON, "AVX512_CORE_BF16", True, "has AVX512_BF16 and AMX"),
        (XEON, "AVX512_CORE_AMX", True, "has AVX512_BF16 and AMX"),
        (XEON, "AVX512_CORE", False, "ONEDNN_MAX_CPU_ISA=AVX512_CORE keeps oneDNN from"),
        (XEON, "AVX2", False, "ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN from"),
        (XEON, "NOT_AN_ISA", False, "not an ISA level vaekit knows"),
        (EPYC, None, False, "neither AVX512_BF16 nor AMX"),
        (EPYC, "AVX512_CORE_AMX", False, "neither AVX512_BF16 nor AMX"),
    ],
)
def test_native_bfloat16_needs_the_feature_and_a_cap_that_allows_it(cpu, cap, native, words):
    found, why = native_bfloat16(cpu, cap)
    assert found is native and words in why


@pytest.mark.parametrize(
    ("environ", "cap"),
    [
        ({}, None),
        ({"ONEDNN_MAX_CPU_ISA": "avx2"}, "AVX2"),
        ({"DNNL_MAX_CPU_ISA": "AVX512_CORE"}, "AVX512_CORE"),
        ({"ONEDNN_MAX_CPU_ISA": "ALL"}, None),
    ],
)
def test_the_isa_cap_comes_from_the_environment(environ, cap):
    assert hardware.isa_cap(environ) == cap


@pytest.mark.parametrize(
    ("cpu", "cap", "device", "gpus", "chosen"),
    [
        (XEON, None, "cpu", [], "mixed_bfloat16"),
        (XEON, "AVX2", "cpu", [], "float32"),
        (EPYC, None, "cpu", [], "float32"),
        (EPYC, None, "gpu", [("NVIDIA A100", (8, 0))], "mixed_bfloat16"),
        (XEON, None, "gpu", [("Tesla T4", (7, 5))], "float32"),
        (XEON, None, "gpu", [("NVIDIA H100", (9, 0)), ("Tesla V100", (7, 0))], "float32"),
    ],
)
def test_auto_picks_bfloat16_only_where_it_is_native(cpu, cap, device, gpus, chosen):
    assert choose_precision("auto", device, gpus, cpu, cap, environ={}) == (chosen, None)


def test_explicit_precisions_are_kept_and_emulated_bfloat16_is_warned_about():
    assert choose_precision("float32", "cpu", [], XEON, None, environ={}) == ("float32", None)
    precision, warning = choose_precision("mixed_bfloat16", "cpu", [], EPYC, None, environ={})
    assert precision == "mixed_bfloat16"
    assert "AMD EPYC 7B13" in warning and "neither AVX512_BF16 nor AMX" in warning
    assert "much slower than float32" in warning and len(warning.splitlines()) == 1
    _, warning = choose_precision("mixed_bfloat16", "cpu", [], XEON, None, environ={})
    assert warning is None


def test_bfloat16_that_tensorflow_cannot_run_is_refused():
    # An AVX-512 CPU with oneDNN capped below AVX512_CORE: TensorFlow's bf16 ops would fail.
    with pytest.raises(ConfigError, match="ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN below"):
        choose_precision(
            "mixed_bfloat16", "cpu", [], XEON, "AVX2", environ={}, backend="tensorflow"
        )
    # A real AVX2 CPU, or oneDNN off, or another backend: emulated, with a warning.
    for cpu, environ, backend in [
        (EPYC, {}, "tensorflow"),
        (XEON, {"TF_ENABLE_ONEDNN_OPTS": "0"}, "tensorflow"),
        (XEON, {}, "torch"),
    ]:
        precision, warning = choose_precision(
            "mixed_bfloat16", "cpu", [], cpu, "AVX2", environ=environ, backend=backend
        )
        assert precision == "mixed_bfloat16" and "emulated" in warning


def test_cpu_line_names_model_features_and_cap():
    assert hardware.cpu_line(EPYC, environ={}) == "AMD EPYC 7B13, 2 logical CPUs; AVX2"
    line = hardware.cpu_line(XEON, environ={"ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert line == (
        "Intel(R) Xeon(R) Processor, 2 logical CPUs; AVX2, AVX-512, AVX512_BF16, AMX; "
        "oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA)"
    )


def expected_auto(environ) -> str:
    native, _ = native_bfloat16(CpuInfo.read(), hardware.isa_cap(environ))
    return "mixed_bfloat16" if native else "float32"


@pytest.mark.parametrize("cap", [None, pytest.param("AVX2", marks=pytest.mark.slow)])
@pytest.mark.slow
def test_train_records_what_auto_chose_in_the_run_config(tmp_path, cap):
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    run = tmp_path / "run"
    settings = ["data.limit=128", "train.epochs=1", "train.batch_size=64", "train.precision=auto"]
    command = [VAEKIT, "train", "--config", CONFIG, "--out", str(run), "--quiet"]
    command += [item for setting in settings for item in ("--set", setting)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["precision"] == expected_auto(env)
