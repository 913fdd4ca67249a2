"""Build and check contract datasets.

  python runners/build_data.py simulate --out data/sim [--rows N] [--seed S]
  python runners/build_data.py validate PATH
  python runners/build_data.py import --input FILE --scenario-col S --label-col L --out DIR [...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autotask.data.build import build_simulated
from autotask.data.contract import ContractError
from autotask.data.importer import ImportSpec, import_table
from autotask.data.simulator import DEFAULT_ROWS, SimulatorConfig
from autotask.data.summary import print_report
from autotask.data.validate import validate_dataset
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 130)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def cmd_validate(args) -> int:
    report = validate_dataset(args.path)
    print_report(report, console)
    return 0 if report.ok else 1


def cmd_simulate(args) -> int:
    report = build_simulated(SimulatorConfig(rows=args.rows, seed=args.seed), args.out, overwrite=args.overwrite)
    print_report(report, console)
    return 0 if report.ok else 1


def cmd_import(args) -> int:
    if args.split_col and args.group_col is None:
        console.print("note: --split-col given; rows keep their splits (no --group-col check of queries)")
    spec = ImportSpec(
        input=Path(args.input),
        scenario_col=args.scenario_col,
        label_col=args.label_col,
        soft_label_col=args.soft_label_col,
        features=_csv(args.features) or None,
        split_col=args.split_col,
        group_col=args.group_col,
        unseen=tuple(_csv(args.unseen)),
        scenario_order=_csv(args.scenario_order) or None,
        encoding=args.encoding,
        seed=args.seed,
    )
    import_table(spec, args.out, overwrite=args.overwrite)
    return cmd_validate(argparse.Namespace(path=args.out))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = root.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check a dataset against the contract")
    validate.add_argument("path")
    validate.set_defaults(run=cmd_validate)

    simulate = sub.add_parser("simulate", help="build the simulated multi-scenario dataset")
    simulate.add_argument("--out", required=True)
    simulate.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--overwrite", action="store_true", help="replace an existing, different build")
    simulate.set_defaults(run=cmd_simulate)

    imp = sub.add_parser("import", help="bring a table of extracted features into the contract")
    imp.add_argument("--input", required=True, help="CSV or Parquet file")
    imp.add_argument("--scenario-col", required=True)
    imp.add_argument("--label-col", required=True, help="0/1 hard label (may be empty in the pretrain pool)")
    imp.add_argument("--soft-label-col", help="teacher probability in [0, 1]")
    imp.add_argument("--features", help="comma-separated feature columns (default: every other numeric column)")
    group = imp.add_mutually_exclusive_group()
    group.add_argument("--split-col", help="column holding pretrain/train/valid/calib/test")
    group.add_argument("--group-col", help="query/group column: splits are made by hashing it")
    imp.add_argument("--unseen", help="comma-separated scenarios kept out of training (go to test)")
    imp.add_argument("--scenario-order", help="seen scenarios in task-id order (default: sorted)")
    imp.add_argument("--encoding", default="utf-8", help="text encoding of a CSV input")
    imp.add_argument("--seed", type=int, default=0, help="seed of the group hash for splits")
    imp.add_argument("--out", required=True)
    imp.add_argument("--overwrite", action="store_true")
    imp.set_defaults(run=cmd_import)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ContractError, FileExistsError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
