"""Where a run trains: one device, the devices of a machine, or many machines (train.distribute).

vaekit writes no trainer of its own: Keras's ``fit`` runs every step, spread by the backend's own
engine (:mod:`vaekit.backends` holds the code of each):

==================  ==========================================================================
``none``            one device (the default)
``data_parallel``   JAX: ``keras.distribution.DataParallel`` over every device of every process;
                    several processes (machines) join with ``keras.distribution.initialize``
``mirrored``        TensorFlow: ``tf.distribute.MirroredStrategy`` over a machine's GPUs (or
                    ``train.cpu_devices`` logical CPU devices); one process
==================  ==========================================================================

PyTorch: released Keras has no ``fit`` that spreads over devices (keras-team/keras#23418), so
``train.distribute`` other than ``none`` is refused there in one line.

``train.batch_size`` is the global batch: it must split evenly over the devices, and each epoch's
last, smaller batch drops its last few images so that it splits evenly too (at most one fewer
than the number of devices; none for MNIST's 60,000 in batches of 128 on up to 32 devices). Each
process reads the same seeded order and takes its own contiguous slice of every batch
(:meth:`Placement.shard`); process 0 alone writes the run folder.

Processes find each other from ``train.coordinator_address``, ``train.num_processes`` and
``train.process_id`` (the arguments of ``keras.distribution.initialize``), else from the first
launcher of :data:`LAUNCHERS` whose variables are set (SLURM, torchrun, Open MPI, Keras's own).

Example:
    >>> find_cluster({}, {"SLURM_NTASKS": "4", "SLURM_PROCID": "2"})
    Cluster(num_processes=4, process_id=2, coordinator_address=None, source='SLURM')
    >>> placement = Placement("data_parallel", devices=4, cluster=Cluster(2, 1))
    >>> placement.shard(8), placement.usable(10, 8)
    (slice(4, 8, None), 8)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vaekit import backends
from vaekit.errors import ConfigError, plural


@dataclass(frozen=True)
class Cluster:
    """The processes of a run: how many, which one this is, and where process 0 listens."""

    num_processes: int = 1
    process_id: int = 0
    coordinator_address: str | None = None
    source: str = "one process"


def _integer(environ: Mapping, *names: str) -> int | None:
    for name in names:
        value = environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return None


def _slurm(environ: Mapping) -> Cluster | None:
    # srun's own variables; JAX finds process 0's address from SLURM_STEP_NODELIST itself.
    count = _integer(environ, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
    process = _integer(environ, "SLURM_PROCID")
    return None if count is None or process is None else Cluster(count, process, None, "SLURM")


def _torchrun(environ: Mapping) -> Cluster | None:
    count, process = _integer(environ, "WORLD_SIZE"), _integer(environ, "RANK")
    if count is None or process is None:
        return None
    host, port = environ.get("MASTER_ADDR"), environ.get("MASTER_PORT")
    address = f"{host}:{port}" if host and port else None
    return Cluster(count, process, address, "torchrun (WORLD_SIZE, RANK, MASTER_ADDR)")


def _open_mpi(environ: Mapping) -> Cluster | None:
    count = _integer(environ, "OMPI_COMM_WORLD_SIZE")
    process = _integer(environ, "OMPI_COMM_WORLD_RANK")
    return None if count is None or process is None else Cluster(count, process, None, "Open MPI")


def _keras(environ: Mapping) -> Cluster | None:
    count = _integer(environ, "KERAS_DISTRIBUTION_NUM_PROCESSES")
    process = _integer(environ, "KERAS_DISTRIBUTION_PROCESS_ID")
    if count is None or process is None:
        return None
    addresses = environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES") or None
    address = addresses.split(",")[0] if addresses else None
    return Cluster(count, process, address, "KERAS_DISTRIBUTION_*")


# Cluster launchers by the environment variables they set, in the order they are tried.
LAUNCHERS: dict[str, Callable[[Mapping], Cluster | None]] = {
    "keras": _keras,
    "slurm": _slurm,
    "torchrun": _torchrun,
    "open_mpi": _open_mpi,
}


def find_cluster(train, environ: Mapping | None = None) -> Cluster:
    """The processes of a run: ``train``'s settings (a ``TrainConfig`` or a mapping) first, else
    a launcher's environment, else one process.

    Example:
        >>> find_cluster({"num_processes": 2, "process_id": 1, "coordinator_address": "h:1"}, {})
        Cluster(num_processes=2, process_id=1, coordinator_address='h:1', source='train.*')
    """
    environ = os.environ if environ is None else environ
    get = train.get if isinstance(train, Mapping) else lambda key: getattr(train, key)
    launched = next(
        (c for c in (find(environ) for find in LAUNCHERS.values()) if c and c.num_processes > 1),
        None,
    )
    count, process = get("num_processes"), get("process_id")
    address = get("coordinator_address")
    if count is None and process is None and address is None:
        return launched or Cluster()
    launched = launched or Cluster()
    cluster = Cluster(
        count if count is not None else launched.num_processes,
        process if process is not None else launched.process_id,
        address if address is not None else launched.coordinator_address,
        "train.*",
    )
    if cluster.process_id >= cluster.num_processes:
        count = cluster.num_processes
        if count == 1:  # train.num_processes unset (1 is refused with the config) and no launcher
            raise ConfigError(
                f"train.process_id: got {cluster.process_id}, but neither train.num_processes "
                "nor a launcher (SLURM, torchrun, Open MPI, KERAS_DISTRIBUTION_*) says there is "
                "more than one process; set train.num_processes, or use 0"
            )
        raise ConfigError(
            f"train.process_id: got {cluster.process_id}, but the run has {count} processes "
            f"({launched.source}); use 0 to {count - 1}"
        )
    return cluster


@dataclass
class Placement:
    """The devices a run trains on, once :func:`setup` has placed it (see the module docstring).

    Args:
        strategy: ``train.distribute``.
        devices: the devices of all processes together (the replicas of the model).
        cluster: the processes.
        scope: a function returning the context to build or load the model in (TensorFlow's
            ``strategy.scope``).
    """

    strategy: str = "none"
    devices: int = 1
    cluster: Cluster = field(default_factory=Cluster)
    scope: Callable = contextlib.nullcontext

    @property
    def chief(self) -> bool:
        """Whether this process writes the run folder (process 0)."""
        return self.cluster.process_id == 0

    @property
    def distributed(self) -> bool:
        return self.devices > 1 or self.cluster.num_processes > 1

    def shard(self, batch: int) -> slice:
        """This process's rows of a global batch of ``batch`` images (a multiple of the devices)."""
        per_process = batch // self.cluster.num_processes
        start = self.cluster.process_id * per_process
        return slice(start, start + per_process)

    def usable(self, n: int, batch_size: int) -> int:
        """How many of an epoch's ``n`` images train: the last batch cut to split evenly."""
        return n - (n % batch_size) % self.devices

    def check_batch(self, batch_size: int, name: str = "train.batch_size") -> None:
        """Refuse a global batch that does not split evenly over the devices."""
        if batch_size % self.devices:
            multiple = batch_size + self.devices - batch_size % self.devices
            raise ConfigError(
                f"{name}: got {batch_size}, which does not split evenly over "
                f"{plural(self.devices, 'device')} (train.distribute={self.strategy}); use a "
                f"multiple of {self.devices}, e.g. {multiple}"
            )

    def describe(self) -> str:
        """One line for the console: the strategy, devices and processes."""
        if not self.distributed:
            return "one device"
        processes = self.cluster.num_processes
        where = (
            f", {plural(processes, 'process', 'processes')} ({self.cluster.source})"
            if processes > 1
            else ""
        )
        return f"{self.strategy} over {plural(self.devices, 'device')}{where}"


_active = Placement()


def active() -> Placement:
    """The placement of the run training in this process (one device unless :func:`setup` ran)."""
    return _active


def prepare(train) -> Cluster:
    """First step, before the backend's runtime starts: join the other processes (JAX) and split
    the CPU into ``train.cpu_devices`` devices. Returns the cluster."""
    cluster = find_cluster(train)
    spread = train.distribute != "none"
    if spread and not backends.current.DISTRIBUTIONS[train.distribute].supported:
        raise ConfigError(_refusal(train.distribute))
    if train.cpu_devices:
        if spread:  # before making them: a batch they cannot split is refused
            _check_cpu_devices(train.cpu_devices, train.batch_size, train.distribute)
        backends.current.split_cpu(train.cpu_devices)
    if not spread:
        if cluster.num_processes > 1:
            raise ConfigError(
                f"train.num_processes: {cluster.num_processes} processes ({cluster.source}), but "
                "train.distribute is none; set train.distribute=data_parallel (JAX)"
            )
        return cluster
    backends.current.prepare_distribution(train, cluster)
    return cluster


def setup(train, cluster: Cluster) -> Placement:
    """Second step, after the device settings: place the run (see the module docstring)."""
    global _active, _last
    release()  # an earlier run of this process may have spread
    if train.distribute != "none":
        devices, scope = backends.current.DISTRIBUTIONS[train.distribute].place(train, cluster)
        _active = Placement(train.distribute, devices, cluster, scope)
        _active.check_batch(train.batch_size)
    _last = _active
    return _active


_last = Placement()  # the placement of the last run set up in this process


def active_run() -> Placement:
    """Where the last run of this process trained (still known after :func:`release`)."""
    return _last


def release() -> None:
    """Back to one device in this process (for the plots and report of process 0)."""
    global _active
    if _active.strategy != "none":
        backends.current.release_distribution()
    _active = Placement()


@contextlib.contextmanager
def alone():
    """For what process 0 does by itself while the others train on (writing a checkpoint): with
    the distribution set, Keras would make each new variable a collective of every process
    (saving builds a throwaway optimizer, ``saving_lib.get_attr_skipset``), which the others never
    join. Nothing changes for one process."""
    if _active.cluster.num_processes == 1:
        yield
        return
    with backends.current.alone():
        yield


def barrier(name: str, placement: Placement | None = None) -> None:
    """Wait until every process of the run (of ``placement``, else the active one) reaches
    ``name``; nothing with one process."""
    if (placement or _active).cluster.num_processes > 1:
        backends.current.barrier(name)


def check_lost(error: BaseException) -> None:
    """End this process with one line if ``error`` says another process of the run is gone."""
    if _active.cluster.num_processes > 1 and backends.current.peer_lost(error):
        detail = " ".join(str(error).split())[:200]
        backends.current.stop_lost(f"another process of the run stopped ({detail})")


def on_lost(hint: str) -> None:
    """What a process that stops because another is gone says to do (JAX's watch)."""
    backends.current.set_lost_hint(hint)


def _check_cpu_devices(count: int, batch_size: int, strategy: str) -> None:
    """Refuse ``train.cpu_devices`` that ``train.batch_size`` does not split evenly over.

    Example:
        >>> _check_cpu_devices(3, 64, "mirrored")
        Traceback (most recent call last):
        ...
        vaekit.errors.ConfigError: train.cpu_devices: got 3, but train.batch_size 64 does not ...
    """
    if batch_size % count == 0:
        return
    divisor = max(d for d in range(1, min(count, batch_size) + 1) if batch_size % d == 0)
    multiple = batch_size + count - batch_size % count
    raise ConfigError(
        f"train.cpu_devices: got {count}, but train.batch_size {batch_size} does not split "
        f"evenly over {count} devices (train.distribute={strategy}); use a divisor of "
        f"{batch_size} (e.g. {divisor}), or a batch size that is a multiple of {count} (e.g. "
        f"{multiple})"
    )


def _refusal(strategy: str) -> str:
    here = backends.name()
    elsewhere = {"data_parallel": "jax", "mirrored": "tensorflow"}[strategy]
    upstream = backends.current.DISTRIBUTIONS[strategy].why_not
    supported = [n for n, way in backends.current.DISTRIBUTIONS.items() if way.supported]
    instead = f" or train.distribute={supported[0]}" if supported else ""
    return (
        f"train.distribute: got {strategy!r}, which Keras runs on the {elsewhere} backend, not on "
        f"{here}{f' ({upstream})' if upstream else ''}; use KERAS_BACKEND={elsewhere}{instead}"
    )
