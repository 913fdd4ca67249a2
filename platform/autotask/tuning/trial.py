"""One Tune trial: a function trainable that builds a TorchTrainer and fits it (Ray Train V2 style).

A 1-worker CPU trial trains in the trial's own process (Train V2 local mode: no controller, no worker group, no
placement group per trial), which is what makes a small trial cheap; larger trials start their own worker group.
"""

from __future__ import annotations

from dataclasses import dataclass

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from autotask.config import RunConfig, TrainingConfig
from autotask.data.manifest import Manifest
from autotask.models.language import reads_language
from autotask.models.registry import get_kind
from autotask.runtime.lightgbm_task import fit_lightgbm
from autotask.runtime.local import FEEDS, execution, feed, run_datasets
from autotask.runtime.loop_sessions import TrialSession
from autotask.runtime.ray_data import training_datasets
from autotask.runtime.ray_trainer import loop_config, make_trainer
from autotask.training.feeds import MemorySplit
from autotask.training.loop import train_loop_per_worker
from autotask.tuning.asha import NAMESPACE
from autotask.tuning.space import split_params

EPOCH_FIELDS = frozenset({"epochs_pretrain", "epochs_finetune"})


def trial_run_config(base: RunConfig, params: dict, model: str, auxiliary=frozenset()) -> RunConfig:
    """The base run with one trial's parameters applied (derived constants such as e2 are dropped).

    Sampled epoch counts are capped at the base run's (`runners/tune.py --epochs-finetune` is the upper bound).
    """
    training, model_fields, _ = split_params(params, auxiliary)
    for key in EPOCH_FIELDS.intersection(training):  # the base run's epochs are the search's budget
        training[key] = min(training[key], getattr(base.training, key))
    return RunConfig(
        data=base.data,
        model=model,
        run_name=base.run_name if base.model == model else model,  # a base run of another kind names that kind
        variant=base.variant if base.model == model else model,
        seed=base.seed,
        model_config={**base.model_config, **model_fields},
        training=TrainingConfig(**{**base.training.__dict__, **training}),
    )


@dataclass(frozen=True)
class TrialSpec:
    """What every trial of a search shares (plain data: it is pickled into each trial's process).

    `stopper` names the search's ASHA rung registry (tuning/asha.py) when early stopping is on. `in_process`: a
    1-worker CPU trial trains in its own process (False: every trial starts a worker group)."""

    base: dict  # the base RunConfig
    manifest: dict
    model: str
    row_counts: dict
    storage: str  # where Ray Train keeps a trial's checkpoints
    stopper: str | None = None
    auxiliary: frozenset = frozenset()
    in_process: bool = True
    metric: str = "valid_roc_auc"


def run_trial(params: dict, trial: TrialSpec, datasets: dict | None = None, datasets_language: bool = False) -> None:
    """Tune calls this with the sampled parameters; Train workers' reports reach Tune via the callback.

    `datasets`: the search's materialised datasets, shared by its trials (with or without the language inputs as
    `datasets_language` says); a trial builds its own when they are absent or read the other inputs.
    """
    base = RunConfig.from_dict(trial.base)
    run = trial_run_config(base, params, trial.model, trial.auxiliary)
    manifest = Manifest.from_dict(trial.manifest)
    if not get_kind(trial.model).is_torch:  # LightGBM: one fit in the trial's own process, one report
        _, _, auc = fit_lightgbm(run, manifest)
        tune.report({"valid_roc_auc": auc, "best_valid_roc_auc": auc, "epoch": 1})
        return
    language = reads_language(run.model_config)
    shared_pool = base.training.pool_in_finetune  # the search built its datasets for the base run
    in_process = trial.in_process and trains_in_process(run)
    in_memory = in_process and feed(run, manifest, trial.row_counts) == FEEDS[0]
    if (datasets is None or datasets_language != language or run.training.pool_in_finetune != shared_pool
            or in_memory != isinstance(datasets["train"], MemorySplit)):
        datasets = (run_datasets(run, manifest, trial.row_counts) if in_process else
                    training_datasets(run.data, manifest, trial.row_counts, language, run.training.pool_in_finetune))
    trial_id = tune.get_context().get_trial_id()
    early_stop = ({"actor": trial.stopper, "namespace": NAMESPACE, "run_id": trial_id, "metric": trial.metric}
                  if trial.stopper else None)
    if in_process:
        train_loop_per_worker(loop_config(run, manifest, trial.row_counts, early_stop), TrialSession(datasets))
        return
    make_trainer(run, manifest, datasets, trial.storage, trial.row_counts, name=f"trial_{trial_id}",
                 callbacks=[TuneReportCallback()], early_stop=early_stop).fit()


def trains_in_process(run: RunConfig) -> bool:
    """A 1-worker CPU trial needs no worker group: it trains in the trial's process."""
    return execution(run) == "in-process"
