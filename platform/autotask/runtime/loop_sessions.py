"""The training loop's runtimes (`training.loop.LoopSession`): where it gets its data, device and checkpoint, and
where it reports each epoch.

`RayTrainSession` on a Ray Train worker (`ray_train_loop` is what TorchTrainer runs); `TrialSession` when a Tune
trial runs the loop in its own process (a 1-worker CPU trial: no worker group), reporting each epoch and its
checkpoint to Tune and resuming from Tune's checkpoint; runtime/local.py's `LocalSession` in the driver.
"""

from __future__ import annotations

import ray
import ray.train
import ray.train.torch
import ray.tune
import torch

from autotask.training.loop import train_loop_per_worker


class RaySession:
    """What every runtime of the loop shares: Ray's checkpoints, node ids and external early stopping."""

    @staticmethod
    def checkpoint(directory: str):
        """The checkpoint `report` receives for a folder of checkpoint files."""
        return ray.train.Checkpoint.from_directory(directory)

    @staticmethod
    def node_id() -> str:
        return ray.get_runtime_context().get_node_id()

    @staticmethod
    def should_continue(early_stop: dict | None, iteration: int, metrics: dict) -> bool:
        """True outside a search; otherwise the named actor's decision for (run, iteration, the metric's value).

        The actor (e.g. a search's ASHA rung registry) exposes `keep_going(run_id, iteration, value) -> bool` and
        answers the same question the same way, so every worker of a run reaches the same decision. The value is the
        epoch's report of the search's metric (`early_stop["metric"]`, default valid_roc_auc)."""
        if not early_stop:
            return True
        actor = ray.get_actor(early_stop["actor"], namespace=early_stop.get("namespace"))
        value = float(metrics[early_stop.get("metric", "valid_roc_auc")])
        return ray.get(actor.keep_going.remote(early_stop["run_id"], iteration, value))


class RayTrainSession(RaySession):
    """The loop's runtime on a Ray Train worker: its shards, DDP, its device, Train's checkpoints and reports."""

    get_checkpoint = staticmethod(ray.train.get_checkpoint)
    report = staticmethod(ray.train.report)
    dataset = staticmethod(ray.train.get_dataset_shard)
    prepare = staticmethod(ray.train.torch.prepare_model)

    @staticmethod
    def device():
        return ray.train.torch.get_device()

    @staticmethod
    def world() -> tuple[int, int]:
        context = ray.train.get_context()
        return context.get_world_rank(), context.get_world_size()


class TrialSession(RaySession):
    """The loop's runtime inside a Tune trial's own process: whole datasets, CPU, Tune's checkpoints and reports."""

    get_checkpoint = staticmethod(ray.tune.get_checkpoint)
    report = staticmethod(ray.tune.report)

    def __init__(self, datasets: dict):
        self.datasets = datasets

    def dataset(self, name: str):
        return self.datasets[name]

    @staticmethod
    def prepare(module):
        return module

    @staticmethod
    def device():
        return torch.device("cpu")

    @staticmethod
    def world() -> tuple[int, int]:
        return 0, 1


def ray_train_loop(config: dict) -> None:
    """TorchTrainer's `train_loop_per_worker`: the loop on this worker's Ray Train session."""
    train_loop_per_worker(config, RayTrainSession())
