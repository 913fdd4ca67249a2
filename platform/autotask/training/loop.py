"""The per-worker training loop run by Ray Train: two-stage schedule, early stopping, checkpoint every epoch.

The loop talks to its runtime through a session: `RayTrainSession` on a Ray Train worker, `TrialSession` when a
Tune trial runs the loop in its own process (a 1-worker CPU trial: no worker group), reporting each epoch and its
checkpoint to Tune and resuming from Tune's checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from autotask.config import RunConfig
from autotask.data.manifest import Manifest
from autotask.evaluation.selection import mean_seen_roc_auc
from autotask.models.registry import build_model, get_kind, learning_rates
from autotask.training.averaging import WeightAverage, steps_per_epoch
from autotask.training.batches import FEATURES, GROUP, TARGET, TASK_ID
from autotask.training.feeds import MINIBATCH_KEYS, MemorySplit
from autotask.training.seen_inputs import SeenInputs
from autotask.training.steps import (
    LossModule,
    compiled_step,
    lr_factor,
    make_optimizer,
    predict,
    set_lr_factor,
    shuffle_seed,
    train_step,
)

STAGES = (("pretrain", "pretrain"), ("finetune", "train"))  # (stage, dataset shard it trains on)
AVERAGE_FILE = "weight_average.pt"  # the checkpoint's weight average, when the run averages


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint so a restarted worker group continues from it."""

    epoch: int = 0  # epochs finished, over both stages
    best_auc: float = float("-inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    stopped_early: bool = False
    restarts: int = 0  # times a worker group resumed from a checkpoint (after a failure or a re-run)
    history: list = field(default_factory=list)


def schedule(run: RunConfig) -> list[tuple[str, str, float]]:
    """(stage, dataset, learning-rate factor) for every epoch in order; each stage warms up and decays on its own."""
    counts = {"pretrain": run.training.epochs_pretrain, "finetune": run.training.epochs_finetune}
    t = run.training
    return [(stage, shard, lr_factor(i, counts[stage], t.warmup_epochs, t.lr_decay, t.min_lr_ratio))
            for stage, shard in STAGES for i in range(counts[stage])]


class LoopSession(Protocol):
    """What the loop needs of its runtime (runtime/loop_sessions.py implements it on Ray)."""

    def dataset(self, name: str): ...  # a shard: "pretrain", "train" or "valid"
    def prepare(self, module: torch.nn.Module) -> torch.nn.Module: ...  # e.g. wrapped in DDP
    def device(self) -> torch.device: ...
    def world(self) -> tuple[int, int]: ...  # (rank, world size)
    def node_id(self) -> str: ...  # where this worker runs, recorded with each epoch's rows
    def get_checkpoint(self): ...  # the checkpoint to resume from (`as_directory()`), or None
    def checkpoint(self, directory: str): ...  # a checkpoint of a folder of checkpoint files, for `report`
    def report(self, metrics: dict, checkpoint=None) -> None: ...
    def should_continue(self, early_stop: dict | None, iteration: int, metrics: dict) -> bool: ...


def train_loop_per_worker(config: dict, session: LoopSession) -> None:
    run = RunConfig.from_dict(config["run"])
    manifest = Manifest.from_dict(config["manifest"])
    torch.set_num_threads(config["threads"])
    torch.manual_seed(run.seed)
    model = build_model(run.model, run.model_config, manifest)
    optimizer = make_optimizer(model, learning_rates(get_kind(run.model), run.training), run.training.weight_decay)
    state, best_state, saved_average = _restore(model, optimizer, session)
    device = session.device()
    prepared = session.prepare(LossModule(model, run.training.autocast_dtype(device.type)))
    average = _weight_average(model, run.training.weight_average_epochs, saved_average)  # on the model's device
    hooks = StepHooks(SeenInputs.of(model), average)
    step = compiled_step(prepared, run.training.compiles(device.type))
    valid = _collect(session.dataset("valid"))
    rank, world_size = session.world()
    epochs = schedule(run)
    n_params = sum(p.numel() for p in model.parameters())
    stage_rows = config.get("stage_rows", {})
    batch_sizes = stage_batch_sizes(run, stage_rows, getattr(model.config, "block_size", 1))
    while state.epoch < len(epochs) and not state.stopped_early:
        stage, shard_name, factor = epochs[state.epoch]
        torch.manual_seed(shuffle_seed(run.seed, state.epoch))
        set_lr_factor(optimizer, factor)
        started = time.perf_counter()
        shard = session.dataset(shard_name)
        stage_run = replace(run, training=replace(run.training, batch_size=batch_sizes[shard_name]))
        if average is not None:  # rows unknown (a loop config without stage_rows): average over horizon steps
            average.set_steps_per_epoch(steps_per_epoch(stage_rows.get(shard_name, 0), batch_sizes[shard_name],
                                                        run.training.workers))
        loss, lineage = _train_epoch(prepared, step, optimizer, shard, stage_run, device, state.epoch, hooks)
        lineage["node"] = session.node_id()
        lineage["train_seconds"] = time.perf_counter() - started
        with average.applied() if average is not None else contextlib.nullcontext():
            auc = _valid_auc(model, valid, run.training.eval_block_size)  # the averaged weights when averaging
            if auc > state.best_auc:
                state.best_auc, state.best_epoch, state.bad_epochs = auc, state.epoch, 0
                best_state = _weights(model)
            elif stage == "finetune":
                state.bad_epochs += 1
        metrics = {"epoch": state.epoch, "stage": stage, "lr_factor": factor, "train_loss": loss, "valid_roc_auc": auc,
                   "best_valid_roc_auc": state.best_auc, "n_params": n_params,
                   "epoch_seconds": time.perf_counter() - started,  # training and validation: the work of an epoch
                   "batch_size": batch_sizes[shard_name],
                   "shard_rows": _gather(lineage, world_size)}
        state.stopped_early = stage == "finetune" and state.bad_epochs >= run.training.patience > 0
        state.stopped_early |= not session.should_continue(config.get("early_stop"), state.epoch + 1, metrics)
        state.history.append(metrics)
        state.epoch += 1
        _report(metrics, model, optimizer, state, best_state, rank == 0, session, average)


def stage_batch_sizes(run: RunConfig, stage_rows: dict[str, int], block_size: int) -> dict[str, int]:
    """Each stage's minibatch size (TrainingConfig.stage_batch_size; batch_size when the rows are unknown)."""
    return {shard: run.training.stage_batch_size(stage_rows[shard], block_size) if shard in stage_rows
            else run.training.batch_size for _, shard in STAGES}


@dataclass(frozen=True)
class StepHooks:
    """What runs around every optimizer step: the model's statistics of its training inputs (AutoTask's seen means,
    folded in at the epoch's end) before it; the weight average's update after it."""

    seen_inputs: SeenInputs | None = None
    average: WeightAverage | None = None


def _train_epoch(prepared, step, optimizer, shard, run: RunConfig, device, epoch: int,
                 hooks: StepHooks = StepHooks()) -> tuple[float, dict]:
    """One epoch of `step` (the prepared loss module, compiled or not) over the shard's minibatches, with `hooks`
    around every step."""
    prepared.train()
    total, rows, row_id_sum = 0.0, 0, 0
    with uneven_shards_guard(prepared):
        for features, task_ids, targets, row_ids in minibatches(shard, run, device, epoch):
            if hooks.seen_inputs is not None:
                hooks.seen_inputs.observe(features, task_ids)
            n = len(targets)
            total += train_step(step, optimizer, features, task_ids, targets) * n
            if hooks.average is not None:
                hooks.average.update()
            rows += n
            row_id_sum += int(row_ids.sum())
    distributed = isinstance(prepared, DistributedDataParallel)
    if hooks.seen_inputs is not None:
        hooks.seen_inputs.fold(distributed)  # every worker's rows, not rank 0's alone
    if hooks.average is not None and distributed:
        hooks.average.synchronise()  # every worker validates, and stops, on the same average
    return total / max(rows, 1), {"rows": rows, "row_id_sum": row_id_sum}


def uneven_shards_guard(wrapped):
    """DDP's join(): a worker whose shard runs out first shadows the others' gradient all-reduces until they finish.

    Streamed shards can differ by a few minibatches (seen with 10M rows and 2 workers: one worker waited in the
    next collective while the other was still in backward, and both hung); without the guard that is a deadlock.
    """
    return wrapped.join() if isinstance(wrapped, DistributedDataParallel) else contextlib.nullcontext()


def chunk_rows(batch_size: int, shuffle_buffer: int) -> int:
    """Rows fetched from Ray Data at a time: the largest multiple of batch_size within the shuffle buffer."""
    return batch_size * max(1, shuffle_buffer // batch_size)


def minibatches(shard, run: RunConfig, device, epoch: int):
    """(features, task_ids, targets, row_ids) minibatches of `batch_size` rows from a Ray Data shard or a
    `MemorySplit`, shuffled with the epoch's own seed (`shuffle_seed`), so every epoch sees new minibatches and new
    facet-2 blocks.

    Ray Data hands over shuffle-buffer-sized chunks, which are cut into minibatches as tensor views: the per-batch
    cost of Ray's batching, shuffling and tensor conversion is paid once per chunk instead of once per step (the
    minibatch sizes are unchanged: only the epoch's last minibatch can be short).
    """
    size = run.training.batch_size
    if isinstance(shard, MemorySplit):
        yield from shard.minibatches(size, shuffle_seed(run.seed, epoch), device)
        return
    chunks = shard.iter_torch_batches(
        batch_size=chunk_rows(run.training.batch_size, run.training.shuffle_buffer),
        local_shuffle_buffer_size=run.training.shuffle_buffer,
        local_shuffle_seed=shuffle_seed(run.seed, epoch),
        device=device,
    )
    for chunk in chunks:
        yield from zip(*(chunk[key].split(size) for key in MINIBATCH_KEYS), strict=True)


def _collect(shard) -> dict[str, np.ndarray]:
    """The whole (unsplit) validation set as numpy arrays, read once."""
    if isinstance(shard, MemorySplit):
        return shard.arrays
    parts = list(shard.iter_batches(batch_size=65_536, batch_format="numpy"))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _valid_auc(model, valid: dict, eval_block_size: int) -> float:
    """Model selection's metric, scored under the run's protocol (facet-2 blocks of eval_block_size rows)."""
    scores = predict(model, valid[FEATURES], valid[TASK_ID], groups=valid[GROUP], block_size=eval_block_size)
    scores = scores[model.selection_score]
    return mean_seen_roc_auc(valid[TARGET], scores, valid[TASK_ID])


def _gather(lineage: dict, world_size: int) -> list:
    """Every worker's rows, row-id sum and node for this epoch: shards must differ, and runs show where they ran."""
    if world_size == 1:
        return [lineage]
    gathered = [None] * world_size
    torch.distributed.all_gather_object(gathered, lineage)
    return gathered


def _weights(model) -> dict:
    """A copy of the model's state on the CPU (the model's own tensors change on)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _weight_average(model, horizon_epochs: float, saved: dict | None) -> WeightAverage | None:
    """The run's weight average (None when it does not average), continuing a checkpoint's when one was saved (a
    checkpoint of a run without averaging has none: the average starts from the restored weights)."""
    if not horizon_epochs:
        return None
    average = WeightAverage(model, horizon_epochs)
    if saved is not None:
        average.load_state_dict(saved)
    return average


def _restore(model, optimizer, session) -> tuple[TrainState, dict | None, dict | None]:
    """(state, best weights, weight average) of the session's checkpoint, the model and optimizer restored from it;
    a fresh state and Nones without one."""
    checkpoint = session.get_checkpoint()
    if checkpoint is None:
        return TrainState(), None, None
    with checkpoint.as_directory() as directory:
        directory = Path(directory)
        model.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
        # A checkpoint written with other parameter groups (the DNN had one before the registry named them): resume
        # the weights with fresh Adam moments rather than fail.
        with contextlib.suppress(ValueError):
            optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
        best = torch.load(directory / "best_model.pt", weights_only=True)
        average_file = directory / AVERAGE_FILE
        average = torch.load(average_file, weights_only=True) if average_file.exists() else None
        state = TrainState(**json.loads((directory / "state.json").read_text()))
    state.restarts += 1
    return state, best, average


def _report(metrics, model, optimizer, state: TrainState, best_state, is_rank_zero: bool, session,
            average: WeightAverage | None = None) -> None:
    """Report metrics from every worker; rank 0 attaches the checkpoint."""
    if not is_rank_zero:
        session.report(metrics)
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        torch.save(model.state_dict(), directory / "model.pt")
        torch.save(optimizer.state_dict(), directory / "optimizer.pt")
        if best_state is None:  # no epoch improved (a NaN AUC): the weights validated last
            with average.applied() if average is not None else contextlib.nullcontext():
                best_state = _weights(model)
        torch.save(best_state, directory / "best_model.pt")
        (directory / "state.json").write_text(json.dumps(asdict(state)))
        if average is not None:
            torch.save(average.state_dict(), directory / AVERAGE_FILE)
        session.report(metrics, checkpoint=session.checkpoint(tmp))
