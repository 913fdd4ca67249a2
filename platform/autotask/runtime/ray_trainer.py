"""Ray Train wiring: one TorchTrainer per run, storage under RUN_DIR/ray or --storage, resumable, fault tolerant."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import ray
import ray.train
from ray.train import CheckpointConfig, DataConfig, FailureConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

from autotask.config import RunConfig
from autotask.data.manifest import Manifest
from autotask.location import Location
from autotask.preflight import local_capacity
from autotask.runtime.loop_sessions import ray_train_loop
from autotask.runtime.ray_data import finetune_pool_rows

TRAIN_NAME = "train"


def threads_per_worker(run: RunConfig) -> int:
    """Torch threads per worker: the cluster's CPUs but one shared among workers, at least one, at most eight.

    One CPU is left to Ray Data's batch prefetching, the driver and Ray's own processes: on a 2-core machine a
    single worker runs one thread, which trained this small model (batches of 256) as fast as two threads
    and without their slowdowns when the cores are busy (docs/benchmarks.md). Without Ray (a run fed from memory):
    the CPUs a local Ray started here would have.
    """
    cpus = int(ray.cluster_resources().get("CPU", 1) if ray.is_initialized() else local_capacity()[0])
    return max(1, min(8, (cpus - 1) // run.training.workers))


def storage_path(run_dir: str | Path, storage: str | None = None) -> str:
    """Where Ray Train keeps checkpoints: a shared path or URI (s3://, gs://) when given, else RUN_DIR/ray."""
    return Location.of(storage).uri if storage else str((Path(run_dir) / "ray").resolve())


def make_trainer(
    run: RunConfig,
    manifest: Manifest,
    datasets: dict,
    storage: str,
    row_counts: dict[str, int],
    name: str = TRAIN_NAME,
    callbacks=None,
    early_stop: dict | None = None,
) -> TorchTrainer:
    """`row_counts`: rows per split; `early_stop`: {"actor": name, "run_id": id} of an external stopper (see
    training/early_stop.py)."""
    training = run.training
    storage = Location.of(storage)
    return TorchTrainer(
        train_loop_per_worker=ray_train_loop,
        train_loop_config=loop_config(run, manifest, row_counts, early_stop),
        torch_config=TorchConfig(backend="nccl" if training.use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=training.workers,
            use_gpu=training.use_gpu,
            resources_per_worker={"CPU": training.cpus_per_worker, **({"GPU": 1} if training.use_gpu else {})},
        ),
        datasets=datasets,
        dataset_config=DataConfig(datasets_to_split=["pretrain", "train"]),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage.path,
            storage_filesystem=storage.filesystem,
            failure_config=FailureConfig(max_failures=training.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=callbacks or [],
        ),
    )


def loop_config(run: RunConfig, manifest: Manifest, row_counts: dict[str, int], early_stop: dict | None = None
                ) -> dict:
    """What the training loop reads: the run, the manifest, its torch threads, the rows of each stage's dataset
    (`row_counts`: rows per split of the data) and an external stopper."""
    stage_rows = {"pretrain": row_counts.get("pretrain", 0),
                  "train": row_counts.get("train", 0) + finetune_pool_rows(row_counts, run.training.pool_in_finetune)}
    return {"run": run.to_dict(), "manifest": manifest.to_dict(), "threads": threads_per_worker(run),
            "early_stop": early_stop, "stage_rows": stage_rows}


def fit(run: RunConfig, manifest: Manifest, datasets: dict, storage: str, row_counts: dict[str, int],
        name: str = TRAIN_NAME, progress=None) -> ray.train.Result:
    """Fit (or resume: Ray Train V2 continues a run found under the same storage path and name).

    `progress`: an autotask.progress.RunProgress that shows each epoch of the run labelled `run.run_name`."""
    with _own_sigint_handler():
        if progress is None:
            return make_trainer(run, manifest, datasets, storage, row_counts, name).fit()
        epochs = run.training.epochs_pretrain + run.training.epochs_finetune
        with progress.watch_training(run.run_name, epochs) as callback:
            return make_trainer(run, manifest, datasets, storage, row_counts, name, callbacks=[callback]).fit()


@contextlib.contextmanager
def _own_sigint_handler():
    """Put the command's SIGINT handler back after TorchTrainer.fit: Ray Train's handler (it aborts the run on
    Ctrl-C) stays installed after fit returns, and a later Ctrl-C would ask the finished run's controller to abort,
    which returns quietly: the interrupt would be lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
