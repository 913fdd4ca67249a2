"""Benchmark training throughput (bare PyTorch, Ray Data, Ray Train 1 and 2 workers) and serving latency and
throughput (eager, TorchScript, ONNX Runtime) on simulated data; print a table and write it.

  python runners/bench.py [--quick] [--device cpu|cuda] --out FILE.json|FILE.csv [--workdir DIR]
  python runners/bench.py --suite gpu --out FILE.json     # CUDA vs CPU training and CUDA serving, needs no Ray
  python runners/bench.py --suite large --workdir data/bench-large --out FILE.json   # 10M rows, 1 and 2 workers
  python runners/bench.py --suite readers --rows 3000000 --out FILE.json    # Ray Data's Parquet readers, A/B/A/B
  python runners/bench.py --suite quality --workdir data/bench-quality --out FILE.json   # test ROC AUC, 3 seeds
  python runners/bench.py --suite serving --run RUN_A --run RUN_B --out FILE.json   # trained runs' serving latency
  python runners/bench.py --suite search --out FILE.json    # trials/min and fixed cost per trial, two trial paths
  python runners/bench.py --suite runs --out FILE.json    # the quickstart's runs: fixed cost, x LightGBM's wall time
  python runners/bench.py --suite worlds --workdir data/bench-worlds --out docs/results/worlds.json   # 12 worlds
  python runners/bench.py --suite worlds --world-seed 5 --workdir data/bench-worlds-seed5 --out FILE.json  # replication
  python runners/bench.py --suite online --run RUN_DIR --out docs/results/online.json   # Ray Serve under load
  python runners/bench.py --suite samplers --rows 60000 --workdir data/bench-samplers --out FILE.json  # TPE vs random
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time

from autotask.benchmarks.catalog import DEFAULT_SUITE, SUITES, suite_runner, suites_help
from autotask.benchmarks.config import LARGE_ROWS, BenchConfig
from autotask.benchmarks.report import (
    PROFILE_COLUMNS,
    RUN_COLUMNS,
    SAMPLER_COLUMNS,
    quality_tables,
    results_table,
    search_table,
    targets_table,
    write_result,
)
from autotask.cli import runner_console, runner_main
from autotask.preflight import SIMULATED_ROW_BYTES, InputError, check_output_dir, check_output_file, check_room

console = runner_console(160)


def _worlds_tables(result: dict) -> list:
    from autotask.benchmarks.worlds_report import worlds_tables

    return worlds_tables(result)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="result file: .json (everything) or .csv (one line per row)")
    p.add_argument("--quick", action="store_true", help="small data and few calls (about a minute)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--suite", choices=list(SUITES), default=DEFAULT_SUITE, help=suites_help())
    p.add_argument("--run", action="append", help="a trained run directory (--suite serving: repeat for more; "
                   "--suite online: one)")
    p.add_argument("--rows", type=int, help="simulated rows (default: 120,000; 10,000,000 for --suite large)")
    p.add_argument("--workdir", help="keep data, artefacts and Ray storage here (default: a temporary folder)")
    p.add_argument("--world-seed", type=int, help="--suite worlds: the seed the worlds are drawn from (default 0, the "
                   "reported benchmark; another seed replicates it on worlds no choice was made on)")
    return p


def check(args) -> BenchConfig:
    """The flags, before any data is simulated: the output file, the work folder, the rows (and the disk for them)."""
    check_output_file(args.out)
    if args.workdir:
        check_output_dir(args.workdir, flag="--workdir")
    if args.world_seed is not None and (args.suite != "worlds" or args.world_seed < 0):
        raise InputError(f"--world-seed {args.world_seed}: a seed >= 0, for --suite worlds only")
    if args.rows is not None and args.rows < 2_000:
        raise InputError(f"--rows {args.rows}: at least 2000 (every scenario needs rows in every split)")
    config = BenchConfig.quick(args.device) if args.quick else BenchConfig(device=args.device)
    if args.rows or SUITES[args.suite].large:
        config = dataclasses.replace(config, rows=args.rows or LARGE_ROWS)
    check_room(config.rows * SIMULATED_ROW_BYTES, args.workdir or tempfile.gettempdir(), f"--rows {config.rows:,}")
    return dataclasses.replace(config, world_seed=args.world_seed or 0)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = check(args)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset execution plans among the results
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autotask-bench-") as tmp:
        result = suite_runner(args.suite, args.run)(config, args.workdir or tmp)
    result["command"] = " ".join(["python runners/bench.py", *(argv if argv is not None else sys.argv[1:])])
    result["seconds"] = round(time.perf_counter() - started, 1)
    tables = {"quality": quality_tables, "worlds": _worlds_tables, "search": lambda r: [search_table(r)],
              "samplers": lambda r: [search_table(r, SAMPLER_COLUMNS, "TPE vs random search")],
              "profile": lambda r: [search_table(r, PROFILE_COLUMNS, "Where a training epoch's time goes")],
              "runs": lambda r: [search_table(r, RUN_COLUMNS, "What a small run costs beyond its epochs")]}.get(
        args.suite, lambda r: [results_table(r)])
    for table in tables(result):
        console.print(table)
    console.print(targets_table(result))
    console.print(f"written to {write_result(result, args.out)} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
