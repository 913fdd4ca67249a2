"""Build and check contract datasets.

  python runners/build_data.py simulate --out data/sim [--rows N] [--seed S]
  python runners/build_data.py validate PATH
  python runners/build_data.py import --input FILE --scenario-col S --label-col L --out DIR [...]
  python runners/build_data.py text --input FILE --query-col Q --offer-col O --label-col L --out DIR [...]
  python runners/build_data.py worlds --out data/worlds [--count 12] [--seed 0] [--rows 16000]
  python runners/build_data.py home-depot --out data/home-depot [--input ../shared/data/home-depot/train.csv.zip]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autotask.cli import INPUT_ERROR, runner_console, runner_main
from autotask.data.build import build_simulated, build_worlds
from autotask.data.contract import EMBEDDING_DTYPES, ContractError
from autotask.data.importer import ImportSpec, import_table, plan_import
from autotask.data.output import check_output
from autotask.data.simulator import DEFAULT_ROWS, SimulatorConfig
from autotask.data.summary import print_report
from autotask.data.text import LabelScale, TextSpec, build_text_dataset, home_depot_spec
from autotask.data.text.builder import SCENARIO_RULES, TEXT_EMBEDDINGS, check_spec, plan_text
from autotask.data.validate import validate_dataset
from autotask.data.worlds import DEFAULT_ROWS as WORLD_ROWS
from autotask.data.worlds import WorldsConfig
from autotask.preflight import SIMULATED_ROW_BYTES, check_room

console = runner_console(130)
MIN_ROWS_HELP = "fold scenarios with fewer than N rows into one scenario, 'other' (it says which it folded)"


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def cmd_validate(args) -> int:
    report = validate_dataset(args.path)
    print_report(report, console)
    return 0 if report.ok else INPUT_ERROR


def check_simulate(args) -> SimulatorConfig:
    if args.seed < 0:
        raise ContractError(f"--seed {args.seed}: must be >= 0")
    config = SimulatorConfig(rows=args.rows, seed=args.seed)
    check_output(args.out, overwrite=True)  # a file, or a path under one (an existing build is checked when built)
    check_room(args.rows * SIMULATED_ROW_BYTES, args.out, f"--rows {args.rows:,}")
    return config


def cmd_simulate(args) -> int:
    report = build_simulated(check_simulate(args), args.out, overwrite=args.overwrite)
    print_report(report, console)
    return 0 if report.ok else INPUT_ERROR


def check_worlds(args) -> WorldsConfig:
    config = WorldsConfig(count=args.count, seed=args.seed, rows=args.rows)
    problems = config.problems()
    if problems:
        raise ContractError(problems)
    check_output(args.out, overwrite=True)
    check_room(args.count * args.rows * SIMULATED_ROW_BYTES, args.out, f"--count {args.count} × --rows {args.rows:,}")
    return config


def cmd_worlds(args) -> int:
    started = time.perf_counter()
    reports = build_worlds(check_worlds(args), args.out, overwrite=args.overwrite)
    failed = [report for report in reports if not report.ok]
    for report in failed:
        print_report(report, console)
    scenarios = [len(r.manifest.scenarios) for r in reports if r.ok]
    console.print(f"{args.out}: {len(reports)} worlds ({sum(r.n_rows for r in reports):,} rows; {min(scenarios)}-"
                  f"{max(scenarios)} seen scenarios each; mechanisms in {args.out}/worlds.json) in "
                  f"{time.perf_counter() - started:.1f} s")
    return INPUT_ERROR if failed else 0


def import_spec(args) -> ImportSpec:
    return ImportSpec(
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
        min_scenario_rows=args.min_scenario_rows,
    )


def cmd_import(args) -> int:
    if args.split_col and args.group_col is None:
        console.print("note: --split-col given; rows keep their splits (no --group-col check of queries)")
    import_table(import_spec(args), args.out, overwrite=args.overwrite, notify=console.print)
    return cmd_validate(argparse.Namespace(path=args.out))


def _fractions(value: str | None) -> dict[str, float] | None:
    """'pretrain=0.3,train=0.3,...' -> dict."""
    if not value:
        return None
    fractions = {}
    for item in _csv(value):
        name, _, share = item.partition("=")
        try:
            fractions[name.strip()] = float(share)
        except ValueError:
            raise ContractError(
                f"--fractions {value!r}: {item!r} is not SPLIT=SHARE (e.g. pretrain=0.3,train=0.3,valid=0.1,...)"
            ) from None
    return fractions


def _text_options(args) -> dict:
    """TextSpec fields shared by `text` and `home-depot` (only those the user gave)."""
    options = {
        "limit": args.limit,
        "seed": args.seed,
        "cache_dir": Path(args.cache_dir) if args.cache_dir else None,
        "fractions": _fractions(args.fractions),
        "keep_text": args.keep_text or None,
        "text_embeddings": args.text_embeddings,
        "embedding_dtype": args.embedding_dtype,
    }
    return {key: value for key, value in options.items() if value is not None}


def _build_text(spec: TextSpec, args) -> int:
    started = time.perf_counter()
    report = build_text_dataset(spec, args.out, overwrite=args.overwrite, notify=console.print)
    print_report(report, console)
    console.print(f"built {args.out} in {time.perf_counter() - started:.1f} s")
    return 0 if report.ok else INPUT_ERROR


def text_spec(args) -> TextSpec:
    return TextSpec(
        input=Path(args.input),
        query_col=args.query_col,
        offer_col=args.offer_col,
        label_col=args.label_col,
        label_scale=LabelScale.parse(args.label_scale),
        threshold=args.threshold,
        scenario_col=args.scenario_col,
        scenario_rule=args.scenario_rule,
        group_col=args.group_col,
        unseen=tuple(_csv(args.unseen)),
        encoding=args.encoding,
        min_scenario_rows=args.min_scenario_rows,
        **_text_options(args),
    )


def cmd_text(args) -> int:
    return _build_text(text_spec(args), args)


def cmd_home_depot(args) -> int:
    return _build_text(home_depot_spec(args.input, **_text_options(args)), args)


def _add_text_common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--limit", type=int, help="read only the first N rows")
    command.add_argument("--fractions", help="split shares by query, e.g. pretrain=0.3,train=0.3,valid=0.1,...")
    command.add_argument("--seed", type=int, default=0, help="seed of the query hash for splits")
    command.add_argument("--cache-dir", help="embedding cache folder (default ~/.cache/autotask/embeddings)")
    command.add_argument("--keep-text", action="store_true", help="keep the texts as columns query_text, offer_text")
    command.add_argument("--text-embeddings", choices=sorted(TEXT_EMBEDDINGS),
                         help="store each text's sentence embedding (query_embedding, offer_embedding) for models "
                              "with --set language=embeddings")
    command.add_argument("--embedding-dtype", choices=list(EMBEDDING_DTYPES),
                         help="float16 (default: half the disk) or float32")
    command.add_argument("--out", required=True)
    command.add_argument("--overwrite", action="store_true")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = root.add_subparsers(dest="command", required=True)
    for add in (_add_validate, _add_simulate, _add_worlds, _add_import, _add_text, _add_home_depot):
        add(sub)
    return root


def _add_validate(sub) -> None:
    validate = sub.add_parser("validate", help="check a dataset against the contract")
    validate.add_argument("path")
    validate.set_defaults(run=cmd_validate)


def _add_simulate(sub) -> None:
    simulate = sub.add_parser("simulate", help="build the simulated multi-scenario dataset")
    simulate.add_argument("--out", required=True)
    simulate.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--overwrite", action="store_true", help="replace an existing, different build")
    simulate.set_defaults(run=cmd_simulate)


def _add_worlds(sub) -> None:
    worlds = sub.add_parser("worlds", help="many random worlds, each with its own generating mechanisms (benchmark)")
    worlds.add_argument("--out", required=True)
    worlds.add_argument("--count", type=int, default=12, help="worlds to generate (default 12)")
    worlds.add_argument("--seed", type=int, default=0)
    worlds.add_argument("--rows", type=int, default=WORLD_ROWS, help=f"rows per world (default {WORLD_ROWS:,})")
    worlds.add_argument("--overwrite", action="store_true", help="replace an existing, different build")
    worlds.set_defaults(run=cmd_worlds)


def _add_import(sub) -> None:
    imp = sub.add_parser("import", help="bring a table of extracted features into the contract")
    imp.add_argument("--input", required=True, help="CSV or Parquet file")
    imp.add_argument("--scenario-col", required=True)
    imp.add_argument("--label-col", required=True, help="0/1 hard label (may be empty in the pretrain pool)")
    imp.add_argument(
        "--soft-label-col",
        help="teacher probability in [0, 1]; with --group-col, groups holding rows without a hard label form the "
        "pretrain (soft-label) pool",
    )
    imp.add_argument("--features", help="comma-separated feature columns (default: every other numeric column)")
    group = imp.add_mutually_exclusive_group()
    group.add_argument("--split-col", help="column holding pretrain/train/valid/calib/test")
    group.add_argument("--group-col", help="query/group column: splits are made by hashing it")
    imp.add_argument("--unseen", help="comma-separated scenarios kept out of training (go to test)")
    imp.add_argument("--scenario-order", help="seen scenarios in task-id order (default: sorted)")
    imp.add_argument("--encoding", default="utf-8", help="text encoding of a CSV input")
    imp.add_argument("--seed", type=int, default=0, help="seed of the group hash for splits")
    imp.add_argument("--min-scenario-rows", type=int, metavar="N", help=MIN_ROWS_HELP)
    imp.add_argument("--out", required=True)
    imp.add_argument("--overwrite", action="store_true")
    imp.set_defaults(run=cmd_import)


def _add_text(sub) -> None:
    text = sub.add_parser("text", help="extract features from (query, offer, graded label) text pairs")
    text.add_argument("--input", required=True, help="CSV (zipped too) or Parquet file")
    text.add_argument("--query-col", required=True)
    text.add_argument("--offer-col", required=True)
    text.add_argument("--label-col", required=True, help="graded label on --label-scale")
    text.add_argument("--label-scale", default="0:1", help="MIN:MAX of the graded label (soft label = rescaled)")
    text.add_argument("--threshold", type=float, help="hard label = grade >= X (default: the scale's midpoint)")
    scenario = text.add_mutually_exclusive_group()
    scenario.add_argument("--scenario-col", help="column naming each pair's scenario")
    scenario.add_argument("--scenario-rule", choices=sorted(SCENARIO_RULES), help="derive it from the offer text")
    text.add_argument("--group-col", help="query/group column for splits (default: the query text)")
    text.add_argument("--unseen", help="comma-separated scenarios kept out of training (go to test)")
    text.add_argument("--encoding", default="utf-8", help="text encoding of a CSV input")
    text.add_argument("--min-scenario-rows", type=int, metavar="N", help=MIN_ROWS_HELP)
    _add_text_common(text)
    text.set_defaults(run=cmd_text)


def _add_home_depot(sub) -> None:
    depot = sub.add_parser("home-depot", help="the Home Depot benchmark (text preset; docs/real-data.md)")
    depot.add_argument("--input", help="train.csv.zip (default: ../shared/data/home-depot/train.csv.zip)")
    _add_text_common(depot)
    depot.set_defaults(run=cmd_home_depot)


CHECKS = {  # subcommand -> its up-front checks (what it does before the expensive part), returning what it built
    "validate": lambda args: None,  # validating is the whole command
    "simulate": check_simulate,
    "worlds": check_worlds,
    "import": lambda args: plan_import(import_spec(args), args.out, args.overwrite, console.print),
    "text": lambda args: plan_text(text_spec(args), args.out, args.overwrite, console.print),
    "home-depot": lambda args: check_spec(home_depot_spec(args.input, **_text_options(args))),
}


def check(args):
    """The subcommand's up-front checks alone: nothing is built (the property-based tests run these)."""
    return CHECKS[args.command](args)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)  # bad input (ContractError, a path that cannot be read or written): runner_main reports it


if __name__ == "__main__":
    sys.exit(main())
