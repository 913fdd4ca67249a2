"""Benchmark arithmetic: steady-state throughput, parallel epochs, latency percentiles, target checks; chunking."""

from __future__ import annotations

import pytest

from autotask.benchmarks import targets
from autotask.benchmarks.stats import latency_ms, parallel_epoch, steady_rows_per_s
from autotask.training.loop import chunk_rows


def test_steady_state_skips_the_first_epoch():
    assert steady_rows_per_s([(100, 10.0), (100, 1.0), (100, 1.0)]) == pytest.approx(100.0)
    assert steady_rows_per_s([(100, 2.0)]) == pytest.approx(50.0)  # a single epoch is all there is


def test_parallel_epoch_waits_for_the_slowest_worker():
    shards = [{"rows": 60, "train_seconds": 1.0}, {"rows": 40, "train_seconds": 2.0}]
    assert parallel_epoch(shards) == (100, 2.0)


def test_latency_percentiles_in_milliseconds():
    result = latency_ms([0.001] * 99 + [0.1])
    assert result["p50_ms"] == pytest.approx(1.0) and result["p99_ms"] > 1.0


def test_targets_are_checked_against_the_rows():
    rows = [{"section": "training", "name": "Ray Train, 1 worker", "rows_per_s": 90.0, "ratio": 0.9},
            {"section": "training", "name": "Ray Train, 2 workers", "rows_per_s": 130.0, "ratio": 1.3},
            {"section": "inference", "name": "onnx", "rows_per_s": 2e5, "p99_ms": 0.5, "max_abs_diff": 1e-7}]
    met = {t["target"].split(",")[0]: t["met"] for t in targets.check(rows)}
    assert met["Ray Train 1 worker >= 0.85 x bare loop rows/s"]
    assert not met["Ray Train 2 workers >= 1.6 x 1 worker"]
    assert met["single-row p99 < 1 ms"] and met["batch > 100"] and met["export matches eager within 1e-5"]


def test_chunks_are_whole_batches_within_the_shuffle_buffer():
    assert chunk_rows(256, 4096) == 4096
    assert chunk_rows(300, 4096) == 3900
    assert chunk_rows(8192, 4096) == 8192


def test_sampler_benchmark_counts_the_trials_tpe_needs_to_reach_random_searchs_final_best():
    from autotask.benchmarks.samplers import seed_row, trials_to_reach
    from autotask.reporting.tuning import best_so_far

    random, tpe = [0.80, 0.84, float("nan"), 0.83, 0.86], [0.80, 0.84, 0.86, 0.85, 0.87]
    assert trials_to_reach(best_so_far(tpe, "max"), 0.86) == 3 and trials_to_reach(best_so_far(tpe, "max"), 0.9) is None
    row = seed_row(1, {"random": random, "tpe": tpe}, trials=5)
    assert (row["random_final_best"], row["tpe_trials_to_random_best"], row["tpe_trials_to_beat_random_best"]) == (
        0.86, 3, 5)
    assert row["random_trials_to_own_best"] == 5 and row["shared_first_trials"] == 2
    assert seed_row(2, {"random": tpe, "tpe": random}, trials=5)["tpe_trials_to_random_best"] is None


def test_run_costs_are_judged_against_lightgbm_and_the_memory_feed():
    """`--suite runs`: each wall time as a multiple of LightGBM's in the same suite run; the fixed-cost target is
    judged on runs fed from memory only (the Ray Data row is the comparison)."""
    from autotask.benchmarks.runs import run_table, run_targets

    rows = run_table([
        {"name": "AutoTask", "wall_s": 20.0, "fixed_s": 3.0, "feed": "memory"},
        {"name": "AutoTask, Ray Data feed", "wall_s": 24.0, "fixed_s": 7.0, "feed": "ray-data"},
        {"name": "LightGBM", "wall_s": 5.0, "fixed_s": None, "feed": None},
    ])
    assert [row["wall_ratio"] for row in rows] == [4.0, 4.8, 1.0]
    judged = run_targets(rows)
    assert [(t["met"], t["measured"]) for t in judged] == [(True, "4.0x (20.0 s vs 5.0 s)"), (True, "3.0 s")]
    assert not run_targets(run_table([{**rows[0], "wall_s": 30.0}, rows[2]]))[0]["met"]
