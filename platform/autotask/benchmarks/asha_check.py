"""Does Tune's own ASHAScheduler stop a trial that runs a TorchTrainer (a Train V2 worker group) without leaking
the group's resources? Runs a 4-trial search with Tune's ASHA, one trial at a time, in a child process with a
deadline: if a stopped trial's worker group leaks, the next trial waits forever for CPUs and the deadline passes
with fewer trials started (Ray issue #54305; the reason tuning/asha.py stops trials cooperatively).

  python -m autotask.benchmarks.asha_check DATA OUT     # the child: prints STARTED n and FINISHED
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

TRIALS = 4
DEADLINE_S = 300


def child(data: str, out: Path) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from autotask.config import RunConfig, TrainingConfig
    from autotask.data.validate import validate_dataset
    from autotask.experiments.tuned import default_space
    from autotask.runtime.driver import start_cluster
    from autotask.tuning.optuna_store import make_searcher
    from autotask.tuning.search import SearchConfig
    from autotask.tuning.space import load_space
    from autotask.tuning.tuner import SearchJob, trainable

    data = str(Path(data).resolve())  # trials run in their own working directories
    report = validate_dataset(data).raise_if_invalid()
    counts = report.summary.groupby("split")["rows"].sum().to_dict()
    base = RunConfig(data=data, training=TrainingConfig(epochs_pretrain=1, epochs_finetune=5, workers=1))
    space = load_space(default_space("autotask"))
    start_cluster()
    out.mkdir(parents=True, exist_ok=True)
    config = SearchConfig(trials=TRIALS, scheduler="none", in_process=False)
    scheduler = ASHAScheduler(metric="valid_roc_auc", mode="max", grace_period=1, reduction_factor=2, max_t=6)
    job = SearchJob(base, space, report.manifest, config, out, counts)
    storage = job.location
    tuner = tune.Tuner(
        trainable(job, stopper=None),
        tune_config=tune.TuneConfig(search_alg=make_searcher(space, report.manifest, config, out), num_samples=TRIALS,
                                    max_concurrent_trials=1, scheduler=scheduler),
        run_config=tune.RunConfig(name="search", storage_path=storage.path, verbose=0))
    tuner.fit()
    print("FINISHED", flush=True)


def check(data: str, out: Path, deadline_s: float = DEADLINE_S) -> dict:
    """{"trials_started", "finished", "seconds", "verdict"}: "leaks" when the search stalls before the deadline."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autotask.benchmarks.asha_check", data, str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        stdout, _ = process.communicate(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, _ = process.communicate()
    folders = list((out / "ray" / "search").glob("run_trial_*"))
    failed = sum((folder / "error.txt").exists() for folder in folders)
    finished = "FINISHED" in (stdout or "")
    if failed:
        verdict = f"not measured: {failed} trial(s) failed (see {out})"
    elif finished and len(folders) == TRIALS:
        verdict = "no leak: every trial ran"
    else:
        verdict = "leaks: the search stalled"
    return {"trials_started": len(folders), "finished": finished, "seconds": time.perf_counter() - started,
            "verdict": verdict}


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]))
