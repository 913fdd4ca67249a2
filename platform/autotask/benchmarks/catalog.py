"""The benchmark suites `bench --suite` offers: each one's entry point (imported on demand: the GPU suite must
import without Ray), what it measures, and what it reads. The one list of suite names."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Suite:
    module: str  # under autotask.benchmarks
    function: str  # run(config, workdir) -> result dict
    help: str
    reads_runs: bool = False  # takes the --run folders
    large: bool = False  # default rows: LARGE_ROWS


SUITES: dict[str, Suite] = {
    "full": Suite("suite", "run_benchmarks", "every path incl. Ray (default)"),
    "gpu": Suite("gpu", "run_gpu_benchmarks", "the training step eager vs compiled vs bf16 and batch sizes 256-16384 "
                 "with the AUC each reaches (CPU too); bare loop CUDA vs CPU and CUDA serving; no Ray"),
    "profile": Suite("profile", "run_profile_suite", "the top 10 operators of one training epoch by self time (CPU, "
                     "and CUDA when present), no Ray"),
    "large": Suite("large", "run_large_benchmarks", "the partitioned 10M-row dataset, 1 and 2 workers, rows/s and "
                   "peak memory", large=True),
    "readers": Suite("large", "run_reader_benchmarks", "the same data, 1 worker, Ray Data's V1 and V2 Parquet "
                     "readers interleaved twice", large=True),
    "quality": Suite("quality", "run_quality_suite", "test ROC AUC of every model on 3 simulator seeds and Home "
                     "Depot, 3 training seeds (resumes from --workdir)"),
    "worlds": Suite("worlds", "run_worlds_suite", "every model on 12 random worlds, 2 training seeds, win rates and "
                    "bootstrap intervals over worlds (resumes from --workdir)"),
    "serving": Suite("serving", "run_serving_benchmarks", "every serving form of each --run's trained model, in one "
                     "process (p99 ratio to the first run)", reads_runs=True),
    "runs": Suite("runs", "run_runs_suite", "the quickstart's runs one after another: each run's fixed cost (wall - "
                  "epochs) and wall time against LightGBM's, AutoTask also with Ray Data's feed"),
    "search": Suite("search", "run_search_benchmarks", "trials per minute and the fixed cost per trial, trials in "
                    "their own process vs a worker group per trial"),
    "samplers": Suite("samplers", "run_sampler_benchmarks", "TPE vs random search, 24-trial AutoTask searches with 3 "
                      "search seeds each, best-so-far curves (resumes from --workdir)"),
    "online": Suite("online", "run_online_suite", "`autotask serve` of one --run under loopback load (open and "
                    "closed loop, 1 and 2 replicas) beside a minimal Serve app, the floor", reads_runs=True),
}
DEFAULT_SUITE = "full"


def suites_help() -> str:
    return "; ".join(f"{name}: {suite.help}" for name, suite in SUITES.items())


def suite_runner(name: str, runs: list[str] | None = None):
    """The suite's entry point, imported now."""
    suite = SUITES[name]
    run = getattr(importlib.import_module(f"autotask.benchmarks.{suite.module}"), suite.function)
    return functools.partial(run, runs=runs or []) if suite.reads_runs else run
