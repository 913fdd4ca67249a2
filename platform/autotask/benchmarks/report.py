"""Showing and saving a benchmark result: rich tables on the console, JSON or CSV on disk."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from rich.table import Table

from autotask.storage import atomic_write_text

COLUMNS = (("section", "section", "{}"), ("name", "path", "{}"), ("threads", "threads", "{}"),
           ("rows_per_s", "rows/s", "{:,.0f}"), ("ratio", "x bare", "{:.2f}"), ("p50_ms", "p50 ms", "{:.3f}"),
           ("p99_ms", "p99 ms", "{:.3f}"), ("max_abs_diff", "max |diff| vs eager", "{:.1e}"),
           ("first_epoch_s", "1st epoch s", "{:.1f}"), ("valid_roc_auc", "valid AUC", "{:.4f}"),
           ("epochs", "best epoch", "{}"), ("seconds_to_best", "s to best", "{:.1f}"),
           ("test_roc_auc", "test AUC", "{:.4f}"), ("note", "note", "{}"))


def _cell(row: dict, key: str, fmt: str) -> str:
    return fmt.format(row[key]) if row.get(key) is not None else ""


def results_table(result: dict) -> Table:
    """Every measured row (training, inference, GPU) in one table, the machine in its title."""
    machine = result["machine"]
    table = Table(title=f"AutoTask benchmark: {machine['nproc']} x {machine['cpu_model']}, device {machine['device']}")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right" if header not in ("section", "path", "note") else "left")
    for row in result["rows"]:
        table.add_row(*(_cell(row, key, fmt) for key, _, fmt in COLUMNS))
    return table


SEARCH_COLUMNS = (("name", "trial path", "{}"), ("trials_per_min", "trials/min", "{:.1f}"),
                  ("wall_s_per_trial", "wall s/trial", "{:.1f}"), ("epoch_s_per_trial", "epochs s/trial", "{:.1f}"),
                  ("overhead_s_per_trial", "fixed s/trial", "{:.1f}"), ("note", "note", "{}"))


PROFILE_COLUMNS = (("section", "epoch, time", "{}"), ("name", "operator", "{}"), ("self_ms", "self ms", "{:,.1f}"),
                   ("share", "share", "{:.1%}"), ("calls", "calls", "{:,}"))

RUN_COLUMNS = (("name", "run", "{}"), ("wall_s", "wall s", "{:.1f}"), ("epochs", "epochs", "{:g}"),
               ("epoch_s", "epochs s", "{:.1f}"), ("fixed_s", "fixed s", "{:.1f}"),
               ("wall_ratio", "x LightGBM", "{:.1f}"), ("seen_roc_auc", "seen test ROC AUC", "{:.4f}"),
               ("feed", "feed", "{}"))

SAMPLER_COLUMNS = (("name", "search", "{}"), ("random_final_best", "random: final best", "{:.4f}"),
                   ("tpe_final_best", "TPE: final best", "{:.4f}"),
                   ("tpe_trials_to_random_best", "TPE trials to reach random's best", "{:g}"),
                   ("tpe_trials_to_beat_random_best", "TPE trials to beat it", "{:g}"),
                   ("shared_first_trials", "first trials shared", "{:g}"), ("note", "note", "{}"))


def search_table(result: dict, columns=SEARCH_COLUMNS, title: str = "Search throughput") -> Table:
    """A search suite's rows under `columns` (key, header, format); the machine in the title."""
    machine = result["machine"]
    table = Table(title=f"{title}: {machine['nproc']} x {machine['cpu_model']}")
    for _, header, _ in columns:
        table.add_column(header, justify="left" if header in (columns[0][1], "note") else "right")
    for row in result["rows"]:
        table.add_row(*(_cell(row, key, fmt) for key, _, fmt in columns))
    return table


def _plus_minus(row: dict, key: str) -> str:
    return "" if row.get(key) is None or row[key] != row[key] else f"{row[key]:.1f} ± {row[f'{key} std']:.1f}"


def _rule_means(result: dict) -> list[tuple[str, str, str, str]]:
    """(dataset, rule, validation proxy, test unseen), each 'mean ± std' over seeds (std 0 with one seed)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in result["unseen_rules"]:
        grouped.setdefault((record["dataset"], record["rule"]), []).append(record)

    def mean_std(records: list[dict], key: str) -> str:
        values = np.array([r[key] for r in records], dtype=float)
        return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.1f}"

    return [(dataset, rule, mean_std(records, "valid_proxy"), mean_std(records, "test_unseen"))
            for (dataset, rule), records in grouped.items()]


def _training_minutes(result: dict) -> float:
    """Wall minutes of training every run once (each run's recorded seconds, counted once per run)."""
    return sum({r["run"]: r["seconds"] for r in result["records"] if "run" in r}.values()) / 60


def _block_sizes(result: dict) -> list[int]:
    return sorted({r["block_size"] for r in result.get("in_context_blocks", [])})


def _block_means(result: dict) -> dict[str, list[tuple[float, float]]]:
    """dataset -> [(mean seen, mean unseen) per block size] over seeds."""
    out: dict[str, list[tuple[float, float]]] = {}
    records = result.get("in_context_blocks", [])
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        cells = []
        for t in _block_sizes(result):
            rows = [r for r in records if r["dataset"] == dataset and r["block_size"] == t]
            cells.append((sum(r["seen"] for r in rows) / len(rows), sum(r["unseen"] for r in rows) / len(rows)))
        out[dataset] = cells
    return out


def _unseen_cells(row: dict) -> str:
    """'Clinic 82.6 ± 0.2, Home ...': the unseen scenarios of the row's dataset (others' columns are NaN)."""
    return ", ".join(f"{k.removeprefix('unseen ')} {_plus_minus(row, k)}" for k in row
                     if k.startswith("unseen ") and not k.endswith(" std") and _plus_minus(row, k))


def quality_markdown(result: dict) -> str:
    """The quality suite's tables as markdown (docs/results/quality.md)."""
    lines = [f"# Quality benchmark ({result['machine']['nproc']} x {result['machine']['cpu_model']})", "",
             f"`{result.get('command', '')}` ({result['seconds'] / 60:.0f} min this time, reusing finished runs in the "
             f"workdir; training every run took {_training_minutes(result):.0f} min). Test ROC AUC (%), mean ± std "
             f"over training seeds {result['config']['seeds']}; seen = mean over seen scenarios; unseen = mean over "
             "unseen scenarios; train s = mean wall seconds of one run (shared by the models read from one run).", "",
             "| dataset | model | seen | unseen | per unseen scenario | train s |", "|---|---|---:|---:|---|---:|"]
    lines += [f"| {r['dataset']} | {r['model']} | {_plus_minus(r, 'seen')} | {_plus_minus(r, 'unseen')} | "
              f"{_unseen_cells(r)} | {r['seconds']:.0f} |" for r in result["summary"]]
    lines += ["", "AutoTask's rule for unseen scenarios, on the same trained weights (mean ± std over seeds): the "
              "validation proxy scores each seen scenario's validation rows without their own id.", "",
              "| dataset | rule | valid proxy | test unseen |", "|---|---|---:|---:|"]
    lines += [f"| {d} | {rule} | {proxy} | {test} |" for d, rule, proxy, test in _rule_means(result)]
    sizes = _block_sizes(result)
    lines += ["", "AutoTask scored with facet-2 blocks of t test rows of one scenario (t = 1 is the served protocol; "
              "same weights; mean over seeds): seen / unseen.", "",
              "| dataset | " + " | ".join(f"t = {t}" for t in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    lines += [f"| {dataset} | " + " | ".join(f"{seen:.2f} / {unseen:.2f}" for seen, unseen in cells) + " |"
              for dataset, cells in _block_means(result).items()]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in result["targets"]]
    return "\n".join(lines) + "\n"


def quality_tables(result: dict) -> list[Table]:
    """The quality suite: mean ± std over seeds of test ROC AUC (%) per dataset and model; the unseen-id rules."""
    table = Table(title="Test ROC AUC (%), mean ± std over training seeds (seen: mean over seen scenarios)")
    for header in ("dataset", "model", "seeds", "seen", "unseen", "per unseen scenario", "train s"):
        table.add_column(header, justify="left" if header in ("dataset", "model", "per unseen scenario") else "right")
    for row in result["summary"]:
        table.add_row(row["dataset"], row["model"], str(row["seeds"]), _plus_minus(row, "seen"),
                      _plus_minus(row, "unseen"), _unseen_cells(row), f"{row['seconds']:.0f}")
    rules = Table(title="AutoTask's rule for unseen scenarios (same weights): validation proxy and test, mean ± std "
                  "over seeds")
    for header in ("dataset", "rule", "valid proxy (seen rows without their id)", "test unseen"):
        rules.add_column(header, justify="left" if header in ("dataset", "rule") else "right")
    for dataset, rule, proxy, test in _rule_means(result):
        rules.add_row(dataset, rule, proxy, test)
    return [table, rules]


def targets_table(result: dict) -> Table:
    table = Table(title="Targets")
    for header in ("target", "measured", "met"):
        table.add_column(header)
    for target in result["targets"]:
        table.add_row(target["target"], target["measured"], "yes" if target["met"] else "[red]no[/red]")
    return table


def write_result(result: dict, path: str | Path) -> Path:
    """JSON (machine, config, rows, targets) or, for a .csv path, one CSV line per row and per target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".csv":
        atomic_write_text(path, json.dumps(result, indent=2, default=str))
        if result.get("suite") == "quality":
            atomic_write_text(path.with_suffix(".md"), quality_markdown(result))
        if result.get("suite") == "worlds":
            from autotask.benchmarks.worlds_report import worlds_figure, worlds_markdown

            atomic_write_text(path.with_suffix(".md"), worlds_markdown(result))
            worlds_figure(result, path.with_suffix(".png"))
        return path
    lines = result["rows"] + [{"section": "target", "name": t["target"], "note": f"{t['measured']}; met={t['met']}"}
                              for t in result["targets"]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[key for key, _, _ in COLUMNS], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(lines)
    atomic_write_text(path, buffer.getvalue())
    return path
