"""JAX's distribution: ``keras.distribution.DataParallel`` over every device of every process.

XLA computes each step on the global batch, so losses, metrics and the sampling noise are those of
one device with that batch; each process hands Keras its own rows of the batch
(``auto_shard_dataset`` off: Keras shards only ``tf.data``), and Keras assembles the global array.
Processes join with ``keras.distribution.initialize`` (``jax.distributed``); JAX's coordination
service notices a process whose heartbeats stop after 100 s (JAX's default, which Keras does not
expose) and aborts the others with a C++ stack trace; :func:`_watch` notices it within 30 s and
stops them with one line naming that process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

import jax
import keras
from jax.experimental import multihost_utils

from vaekit.backends.base import Distribution
from vaekit.errors import ConfigError


def split_cpu(count: int) -> None:
    """Make JAX see ``count`` CPU devices (``jax_num_cpu_devices``), before it starts."""
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX already started in this process: its devices stay
        if len(jax.devices("cpu")) != count:
            raise ConfigError(
                f"train.cpu_devices: JAX started earlier in this process with "
                f"{len(jax.devices('cpu'))} CPU devices; set it in a new process"
            ) from None


def prepare_distribution(train, cluster) -> None:
    """Before JAX starts: join the other processes (``keras.distribution.initialize``)."""
    if cluster.num_processes > 1 and not jax.distributed.is_initialized():
        keras.distribution.initialize(
            cluster.coordinator_address, cluster.num_processes, cluster.process_id
        )
        _watch(cluster)


def data_parallel(train, cluster):
    """``keras.distribution.DataParallel`` over every device of every process."""
    devices = keras.distribution.list_devices("cpu" if train.device == "cpu" else None)
    distribution = keras.distribution.DataParallel(devices=devices)
    distribution.auto_shard_dataset = False  # vaekit's stream gives each process its own rows
    keras.distribution.set_distribution(distribution)
    return len(devices), contextlib.nullcontext


DISTRIBUTIONS = {
    "data_parallel": Distribution(place=data_parallel),
    "mirrored": Distribution(why_not="tf.distribute strategies run TensorFlow's graphs only"),
}


def release_distribution() -> None:
    """Back to one device: no distribution set."""
    keras.distribution.set_distribution(None)


@contextlib.contextmanager
def alone():
    """No distribution while this process works by itself (see vaekit.distribute.alone)."""
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(distribution)


def barrier(name: str) -> None:
    """Wait for every process at ``name`` (``multihost_utils.sync_global_devices``)."""
    multihost_utils.sync_global_devices(name)


# What a process that stops because another is gone says to do (set_lost_hint: the training run
# gives its resume command).
_lost_hint = "continue from the newest complete checkpoint with vaekit train --resume RUN_DIR on "
_lost_hint += "every process"


def set_lost_hint(hint: str) -> None:
    """What :func:`stop_lost` tells the user to do next."""
    global _lost_hint
    _lost_hint = hint


def peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another process is gone."""
    words = ("Connection closed by peer", "Connection reset by peer", "heartbeat", "NCCL")
    return isinstance(error, jax.errors.JaxRuntimeError) and any(w in str(error) for w in words)


def stop_lost(message: str) -> None:
    """End this process of a spread run with one line (skipping JAX's shutdown barrier, which
    would wait for the process that is gone)."""
    me = jax.process_index()
    print(f"vaekit: error: {message}; this process (process {me}) stops too; {_lost_hint}",
          file=sys.stderr, flush=True)  # fmt: skip
    os._exit(1)


STALE_SECONDS = 30.0  # a process whose beat has not moved for this long is gone


def _watch(cluster, every: float = 2.0) -> None:
    """A daemon thread that ends this process with one line once another one is gone.

    Without it, a process whose peer died waits in a collective until JAX's coordination service
    notices the missing heartbeats (100 s) and aborts it with a C++ stack trace. Each process
    counts up a key of its own in that service's key-value store every ``every`` seconds and
    reads the others': one whose count has not moved for :data:`STALE_SECONDS` is gone, and a
    coordinator that does not answer is gone. (The store is reached through ``jax.distributed``'s
    client: JAX has no public call for it; where it is missing, nothing is watched and JAX's own
    message stands.)
    """
    try:
        from jax._src import distributed  # private: only where this JAX has it

        client = distributed.global_state.client
        client.key_value_set, client.key_value_try_get  # noqa: B018  (in the JAX in use?)
    except (ImportError, AttributeError):
        return
    me, everyone = cluster.process_id, range(cluster.num_processes)

    def watch() -> None:
        seen = {p: (None, time.monotonic()) for p in everyone if p != me}
        beat, unanswered = 0, 0.0
        while True:
            beat += 1
            try:
                client.key_value_set(f"vaekit/beat/{me}", str(beat), allow_overwrite=True)
                counts = {p: _try_get(client, f"vaekit/beat/{p}") for p in seen}
                unanswered = 0.0
            except Exception:  # noqa: BLE001  (the coordinator does not answer)
                unanswered += every
                if unanswered >= STALE_SECONDS:
                    where = cluster.coordinator_address or "its address"
                    stop_lost(f"process 0 (the coordinator, at {where}) does not answer")
                time.sleep(every)
                continue
            now = time.monotonic()
            for process, count in counts.items():
                last, since = seen[process]
                if count != last:
                    seen[process] = (count, now)
                elif now - since >= STALE_SECONDS * (1 if last is not None else 10):
                    stop_lost(f"process {process} of the run's {cluster.num_processes} stopped "
                         f"(no sign of it for {STALE_SECONDS:.0f} s)")  # fmt: skip
            time.sleep(every)

    threading.Thread(target=watch, name="vaekit-process-watch", daemon=True).start()


def _try_get(client, key: str):
    try:
        return client.key_value_try_get(key)
    except Exception as error:  # noqa: BLE001
        if "NOT_FOUND" in str(error) or "not found" in str(error).lower():
            return None  # that process has not beaten yet
        raise
