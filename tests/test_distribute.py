"""train.distribute: one device, the devices of a machine, several processes (vaekit.distribute).

The fast tests check how the processes are found, how batches are cut and shared, and the
refusals. The slow ones train through the console script, each process a new one: on two forced
JAX CPU devices and on two logical TensorFlow CPU devices against one device; as two JAX
processes on 127.0.0.1 (MNIST and an image folder); a process killed mid-run and the run resumed;
checkpoints moved between one device and two, both ways.

Tolerance. The spread runs see the same global batches in the same order and draw the same noise
(JAX computes on the global batch; on TensorFlow each replica takes its rows of the whole batch's
noise), so they differ from one device only in the order float32 sums are taken: the batch mean
and the gradient are split into per-device partial sums and then added. One step's loss then
differs by at most the rounding of a 25,088-term sum, 40 u (u = 2^-24; the bound the wirings'
equivalence uses, tests/test_strategies.py); while training is stable, each step adds its own such
error and Adam's normalised step does not amplify it, so after S steps the logged means agree
within S x 40 u of their size (measured: 1.7e-7 after 8 steps on TensorFlow, 1.1e-7 on JAX, where
8 x 40 u = 1.9e-5).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import CONFIG, VAEKIT, ok, one_line, vaekit

from vaekit.backends import installed
from vaekit.config import Config
from vaekit.distribute import LAUNCHERS, Cluster, Placement, find_cluster
from vaekit.errors import ConfigError

U = 2.0**-24
STEP_ERROR = 40 * U  # one step's rounding of the loss (see the module docstring)
HERE = Path(__file__).parent


needs_jax = pytest.mark.skipif(not installed("jax"), reason="needs jax (make test-backends)")


# How the processes are found.
def test_the_config_names_the_processes_before_any_launcher():
    train = {"num_processes": 2, "process_id": 1, "coordinator_address": "10.0.0.1:1234"}
    found = find_cluster(train, {"SLURM_NTASKS": "8", "SLURM_PROCID": "5"})
    assert found == Cluster(2, 1, "10.0.0.1:1234", "train.*")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"SLURM_NTASKS": "4", "SLURM_PROCID": "3"}, Cluster(4, 3, None, "SLURM")),
        (
            {"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "node1", "MASTER_PORT": "29500"},
            Cluster(2, 1, "node1:29500", "torchrun (WORLD_SIZE, RANK, MASTER_ADDR)"),
        ),
        (
            {"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "0"},
            Cluster(3, 0, None, "Open MPI"),
        ),
        (
            {
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": "1",
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:2345",
            },
            Cluster(2, 1, "10.0.0.1:1234", "KERAS_DISTRIBUTION_*"),
        ),
        ({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"}, Cluster()),  # a job of one task
        ({}, Cluster()),
    ],
)
def test_a_launchers_variables_name_the_processes(environ, expected):
    empty = {"num_processes": None, "process_id": None, "coordinator_address": None}
    assert find_cluster(empty, environ) == expected
    assert set(LAUNCHERS) == {"keras", "slurm", "torchrun", "open_mpi"}


def test_a_process_id_beyond_the_processes_is_one_line():
    with pytest.raises(ConfigError, match=r"train.process_id: got 2, .* 2; use 0 to 1"):
        Config.from_dict({"train": {"num_processes": 2, "process_id": 2}})
    with pytest.raises(ConfigError, match="train.coordinator_address: got 'node1'"):
        Config.from_dict({"train": {"coordinator_address": "node1"}})


# How batches are cut and shared.
def test_each_process_reads_its_own_rows_of_the_same_batches():
    from vaekit.datasets.pipeline import Stream

    def batches(process):
        placement = Placement("data_parallel", devices=4, cluster=Cluster(2, process))
        stream = Stream(30, 8, True, 5, 0, 1, 0, placement)
        order = stream.order(0)
        whole = [stream.batch(0, step, order) for step in range(stream.steps)]
        return [batch[stream.rows(len(batch))] for batch in whole]

    one = Stream(30, 8, True, 5, 0, 1, 0)
    assert one.used == 30 and one.steps == 4
    first, second = batches(0), batches(1)
    # 30 images in batches of 8 over 4 devices: the last batch of 6 is cut to 4.
    assert [len(b) for b in first] == [4, 4, 4, 2] and [len(b) for b in second] == [4, 4, 4, 2]
    together = np.concatenate([np.concatenate([a, b]) for a, b in zip(first, second, strict=True)])
    assert together.tolist() == one.order(0)[:28].tolist()  # the one-device order, cut


def test_a_batch_that_does_not_split_over_the_devices_is_one_line():
    placement = Placement("mirrored", devices=3)
    with pytest.raises(ConfigError, match="got 128, which does not split evenly over 3 devices"):
        placement.check_batch(128)
    assert placement.usable(1000, 128) == 1000 - (1000 % 128) % 3


# Refusals, from the console script.
@pytest.mark.slow
def test_a_strategy_of_another_backend_is_one_line_naming_it(tmp_path):
    result = vaekit(
        "train", "--config", CONFIG, "--set", "train.distribute=data_parallel",
        "--out", tmp_path / "run", env={"KERAS_BACKEND": "tensorflow"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "train.distribute: got 'data_parallel', which Keras runs on the jax backend" in (
        one_line(result)
    )
    assert not (tmp_path / "run").exists()


def test_tensorflow_across_machines_is_one_line_naming_the_upstream_issue(tmp_path):
    result = vaekit(
        "train", "--config", CONFIG, "--set", "train.distribute=mirrored", "--out",
        tmp_path / "run", env={"KERAS_BACKEND": "tensorflow", "SLURM_NTASKS": "2",
                               "SLURM_PROCID": "0"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "keras-team/keras#20585" in one_line(result) and "(SLURM)" in one_line(result)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not installed("torch"), reason="needs torch")
def test_pytorch_is_one_line_naming_the_upstream_work(tmp_path):
    result = vaekit(
        "train", "--config", CONFIG, "--set", "train.distribute=data_parallel",
        "--out", tmp_path / "run", env={"KERAS_BACKEND": "torch"},
    )  # fmt: skip
    assert result.returncode == 2 and "keras-team/keras#23418" in one_line(result)


# Spread settings at the edges of their range (TensorFlow, 256 images in batches of 64): one line,
# exit 2, before the devices are made (100,000 logical devices took minutes), nothing left.
SPREAD_EDGES = [
    (["train.cpu_devices=3"], "train.cpu_devices: got 3, but train.batch_size 64 does not split "
     "evenly over 3 devices (train.distribute=mirrored); use a divisor of 64 (e.g. 2), or a batch "
     "size that is a multiple of 3 (e.g. 66)"),
    (["train.cpu_devices=100000"], "train.cpu_devices: got 100000, but train.batch_size 64"),
    (["train.distribute=none", "train.process_id=1"], "train.process_id: got 1, but neither "
     "train.num_processes nor a launcher"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "words"), SPREAD_EDGES, ids=[s[-1] for s, _ in SPREAD_EDGES])
def test_a_spread_setting_out_of_range_is_one_line_before_the_devices_are_made(
    settings, words, tmp_path
):
    spread = ["train.distribute=mirrored", "data.limit=256", "train.batch_size=64", *settings]
    overrides = [part for setting in spread for part in ("--set", setting)]
    result = vaekit("train", "--config", CONFIG, *overrides, "--out", tmp_path / "run",
                    env={"KERAS_BACKEND": "tensorflow"}, timeout=120)  # fmt: skip
    assert result.returncode == 2 and one_line(result).startswith(f"vaekit: error: {words}")
    assert list(tmp_path.iterdir()) == []


# Spread runs against one device.
def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as file:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(file)]


def assert_same_training(spread: list[dict], one: list[dict], steps: int) -> None:
    """Equal epochs, each logged mean within ``steps`` x 40 u of its size (the module docstring)."""
    assert [r["epoch"] for r in spread] == [r["epoch"] for r in one]
    for a, b in zip(spread, one, strict=True):
        for key in ("loss", "bce", "kl", "nelbo", "val_loss", "val_bce", "val_kl", "val_nelbo"):
            size = max(abs(b[key]), abs(b["loss"]))  # the small kl: against the loss it is in
            assert abs(a[key] - b[key]) <= steps * STEP_ERROR * size, (key, a[key], b[key])


SMALL = ["--set", "data.limit=1024", "--set", "train.epochs=2"]  # 8 steps of 128 an epoch
STEPS = 16
TWO_JAX_DEVICES = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def train(out: Path, *settings, env=None, config=CONFIG, timeout=600):
    return vaekit("train", "--config", config, *SMALL, *settings, "--out", out, "--quiet",
                  env=env, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The reference: the same run on one device, on each backend."""
    folder = tmp_path_factory.mktemp("one")
    runs = {"tensorflow": folder / "tensorflow"}
    ok(train(runs["tensorflow"], env={"KERAS_BACKEND": "tensorflow"}))
    if installed("jax"):
        runs["jax"] = folder / "jax"
        ok(train(runs["jax"], env={"KERAS_BACKEND": "jax"}))
    return runs


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_trains_as_one_device(tmp_path, one_device):
    result = ok(train(
        tmp_path / "run", "--set", "train.distribute=mirrored", "--set", "train.cpu_devices=2",
        env={"KERAS_BACKEND": "tensorflow"},
    ))  # fmt: skip
    assert "trained on: mirrored over 2 devices" in result.stdout
    assert_same_training(rows(tmp_path / "run"), rows(one_device["tensorflow"]), STEPS)


@pytest.mark.slow
@needs_jax
def test_data_parallel_over_two_forced_jax_devices_trains_as_one_device(tmp_path, one_device):
    result = ok(train(tmp_path / "run", "--set", "train.distribute=data_parallel",
                      env=TWO_JAX_DEVICES))  # fmt: skip
    assert "trained on: data_parallel over 2 devices" in result.stdout
    assert_same_training(rows(tmp_path / "run"), rows(one_device["jax"]), STEPS)


@pytest.mark.slow
@pytest.mark.parametrize("strategy, backend", [
    pytest.param("mirrored", "tensorflow", marks=pytest.mark.extended),  # the JAX one in CI
    ("data_parallel", "jax"),
])  # fmt: skip
def test_every_wiring_and_objective_trains_as_on_one_device(strategy, backend):
    if not installed(backend):
        pytest.skip(f"needs {backend}")
    result = subprocess.run(
        [sys.executable, str(HERE / "distribute_check.py"), strategy], capture_output=True,
        text=True, env={**os.environ, "KERAS_BACKEND": backend}, timeout=900, cwd=HERE,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(results) == 6
    for name, logs in results.items():
        assert logs["devices"] == 2, name
        for key, value in logs["one"].items():
            size = max(abs(value), abs(logs["one"]["loss"]))
            assert abs(logs["spread"][key] - value) <= 8 * STEP_ERROR * size, (name, key)


# Several processes.
def launch(count, port, arguments, env=None, log=None):
    """``count`` console-script processes of one run on 127.0.0.1 (process i with its id)."""
    processes = []
    for process in range(count):
        settings = [
            "--set", "train.distribute=data_parallel", "--set", f"train.num_processes={count}",
            "--set", f"train.process_id={process}",
            "--set", f"train.coordinator_address=127.0.0.1:{port}",
        ]  # fmt: skip
        processes.append(subprocess.Popen(
            [VAEKIT, *map(str, arguments), *settings, "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "KERAS_BACKEND": "jax", **(env or {})},
        ))  # fmt: skip
    return processes


def finished(processes, timeout=600):
    return [(p.wait(timeout), *p.communicate()) for p in processes]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Two processes, a checkpoint every 4 steps (where the killed run below can stop): the run both
# tests of two processes read.
TWO_PROCESSES = ["train", "--config", CONFIG, *SMALL, "--set", "train.checkpoint_every_steps=4"]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """The run of two processes and what each printed: ``(folder, [(code, stdout, stderr)])``."""
    out = tmp_path_factory.mktemp("two") / "run"
    return out, finished(launch(2, free_port(), [*TWO_PROCESSES, "--out", out]))


@pytest.mark.slow
@needs_jax
def test_two_processes_write_one_run_folder_that_matches_one_device(two_processes, one_device):
    out, results = two_processes
    for code, _, stderr in results:
        assert code == 0 and "Traceback" not in stderr, stderr[-3000:]
    assert "trained on: data_parallel over 2 devices, 2 processes (train.*)" in results[0][1]
    assert "process 1 of 2: done (data_parallel over 2 devices" in results[1][1]
    assert_same_training(rows(out), rows(one_device["jax"]), STEPS)
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints", "config.yaml", "metrics.csv", "model.keras", "plots", "report.html",
    ]  # fmt: skip
    saved = Config.load(out / "config.yaml").train  # one process's settings are not kept
    assert (saved.distribute, saved.num_processes, saved.process_id) == (
        "data_parallel",
        None,
        None,
    )
    ok(vaekit("evaluate", out, "--samples", "2", "--limit", "64", "--quiet"))  # on one device


@pytest.mark.slow
@pytest.mark.extended
@needs_jax
def test_two_processes_train_on_an_image_folder(tmp_path):
    from test_folder import class_folder, config_file

    root = class_folder(tmp_path / "images", per_class=12)  # 36 images, a test split of 10%
    config = config_file(tmp_path, root, shape=(16, 16, 3))
    one, spread = tmp_path / "one", tmp_path / "spread"
    common = ["--set", "train.epochs=2", "--set", "data.validation=test"]
    ok(vaekit("train", "--config", config, *common, "--out", one, "--quiet",
              env={"KERAS_BACKEND": "jax"}))  # fmt: skip
    results = finished(launch(2, free_port(), ["train", "--config", config, *common,
                                               "--out", spread]))  # fmt: skip
    for code, _, stderr in results:
        assert code == 0, stderr[-3000:]
    steps = 2 * -(-len(rows(one)) // 1) * 8  # at most 8 steps of 4 an epoch
    assert_same_training(rows(spread), rows(one), steps)
    assert (spread / "manifest.json").is_file() and (spread / "report.html").is_file()


@pytest.mark.slow
@needs_jax
def test_a_killed_process_stops_the_run_in_one_line_and_it_resumes_exactly(tmp_path, two_processes):
    # Killed after the first 4 of its 16 steps; the resumed run ends as the whole one did.
    out, (whole, uninterrupted) = tmp_path / "run", two_processes
    assert [code for code, _, _ in uninterrupted] == [0, 0], uninterrupted[0][2][-3000:]
    processes = launch(2, free_port(), [*TWO_PROCESSES, "--out", out])
    started = time.monotonic()
    while not (out / "checkpoints" / "ckpt-e0001-s000004.keras").exists():
        assert time.monotonic() - started < 600 and processes[0].poll() is None
        time.sleep(0.1)
    processes[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    code, _, stderr = finished(processes[:1], timeout=300)[0]
    processes[1].wait()
    assert code == 1 and time.monotonic() - killed < 120
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("vaekit: error: ") and "process 0) stops too" in last, stderr[-3000:]
    assert f"continue with: vaekit train --resume {out} on every process" in last
    for code, _, stderr in finished(launch(2, free_port(), ["train", "--resume", out])):
        assert code == 0, stderr[-3000:]
    resumed = rows(out)
    assert resumed == [
        {**r, "seconds": s["seconds"]} for r, s in zip(rows(whole), resumed, strict=True)
    ]


@pytest.mark.slow
@pytest.mark.extended
@needs_jax
def test_a_checkpoint_moves_between_one_device_and_two_both_ways(tmp_path, one_device):
    one = one_device["jax"]
    for first, then in (({}, TWO_JAX_DEVICES), (TWO_JAX_DEVICES, {})):
        out = tmp_path / f"from{len(first)}"
        spread = ["--set", "train.distribute=data_parallel"]
        ok(vaekit("train", "--config", CONFIG, "--set", "data.limit=1024", "--set",
                  "train.epochs=1", *(spread if first else []), "--out", out, "--quiet",
                  env={"KERAS_BACKEND": "jax", **first}))  # fmt: skip
        ok(vaekit("train", "--resume", out, "--set", "train.epochs=2",
                  "--set", f"train.distribute={'data_parallel' if then else 'none'}",
                  "--quiet", env={"KERAS_BACKEND": "jax", **then}))  # fmt: skip
        assert_same_training(rows(out), rows(one), STEPS)


@pytest.mark.slow
@needs_jax
def test_the_readmes_spread_command_runs(tmp_path):
    readme = (HERE.parent / "README.md").read_text()
    section = readme.split("## Many devices and many machines", 1)[1].split("\n## ", 1)[0]
    command = section.split("```bash\n", 1)[1].split("```", 1)[0]
    command = command.strip().replace("runs/spread", str(tmp_path / "spread")) + " --quiet"
    environ = {**os.environ, "PATH": f"{Path(VAEKIT).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            cwd=HERE.parent, env=environ, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained on: data_parallel over 2 devices" in result.stdout
    assert len(rows(tmp_path / "spread")) == 1
