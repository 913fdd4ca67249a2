"""Showing the worlds suite: console tables, docs/results/worlds.md and the AutoTask - LightGBM figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

WORLD_COLUMNS = ("AutoTask", "DNN general branch", "DNN task branch", "MMoE", "PLE", "STAR", "LightGBM", "oracle")


def _per_world(result: dict) -> pd.DataFrame:
    return pd.DataFrame(result["per_world"])


def _cell(frame: pd.DataFrame, world: str, model: str, column: str) -> str:
    row = frame[(frame["world"] == world) & (frame["model"] == model)]
    if not len(row) or row[column].iloc[0] != row[column].iloc[0]:
        return ""
    return f"{row[column].iloc[0]:.1f}"


def _world_line(result: dict, world: str) -> str:
    spec = next(w for w in result["worlds"]["worlds"] if w["name"] == world)
    pool = "pool" if spec["labels"]["pretrain_pool"] else "no pool"
    kinds = "+".join(u["kind"][0] for u in spec["unseen"])
    return f"d={spec['d']}, {spec['seen']} seen, unseen {kinds}, {pool}"


def _models(frame: pd.DataFrame) -> list[str]:
    present = set(frame["model"])
    return [m for m in WORLD_COLUMNS if m in present]


def per_world_rows(result: dict, column: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per world (its draw in short), one column per model, then the mean over worlds."""
    frame = _per_world(result)
    models = _models(frame)
    rows = [[world, _world_line(result, world), *(_cell(frame, world, m, column) for m in models)]
            for world in dict.fromkeys(frame["world"])]
    means = frame.groupby("model")[column].mean()
    rows.append(["mean", "", *(f"{means[m]:.2f}" for m in models)])
    return ["world", "draw", *models], rows


def comparison_rows(result: dict) -> list[list[str]]:
    return [[c["model"], c["peer"], c["metric"], f"{c['mean_gap']:+.2f}", f"[{c['low']:+.2f}, {c['high']:+.2f}]",
             f"{100 * c['win_rate']:.0f}%"] for c in result["comparisons"]]


COMPARISON_HEADER = ["model", "against", "scenarios", "mean gap", "95% interval (worlds resampled)", "win rate"]


def rule_rows(result: dict) -> list[list[str]]:
    frame = pd.DataFrame(result["unseen_rules"])
    if not len(frame):
        return []
    per_seed = frame.groupby(["rule", "seed"])[["valid_proxy", "test_unseen"]].mean()  # mean over worlds
    means, stds = per_seed.groupby(level=0).mean(), per_seed.groupby(level=0).std(ddof=1).fillna(0.0)
    agreement = result["proxy_agreement"]["spearman_over_worlds"]
    return [[rule, *(f"{row[key]:.2f} ± {stds.loc[rule, key]:.2f}" for key in ("valid_proxy", "test_unseen")),
             f"{agreement.get(rule, float('nan')):+.2f}"] for rule, row in means.iterrows()]


def onboarding_rows(result: dict) -> list[list[str]]:
    frame = pd.DataFrame(result["onboarding"])
    if not len(frame):
        return []
    per_seed = frame.groupby(["onboarding_rows", "seed"])["test_unseen"].mean()
    return [[f"AutoTask + onboarding ({n} unlabelled rows)", f"{group.mean():.2f} ± {group.std(ddof=1):.2f}"]
            for n, group in per_seed.groupby(level=0)]


def _rich(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def worlds_tables(result: dict) -> list[Table]:
    tables = [_rich(f"{column} test ROC AUC (%), mean over training seeds", *per_world_rows(result, column))
              for column in ("seen", "unseen")]
    tables.append(_rich("AutoTask against each peer over worlds", COMPARISON_HEADER, comparison_rows(result)))
    if result["unseen_rules"]:
        tables.append(_rich("AutoTask's unseen rules (same weights), mean over worlds and seeds",
                            ["rule", "valid proxy", "test unseen", "proxy/test rank agreement over worlds"],
                            rule_rows(result)))
    return tables


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def worlds_markdown(result: dict) -> str:
    """docs/results/worlds.md: every table of the suite, the command and the targets."""
    config = result["config"]
    lines = [f"# Worlds benchmark ({result['machine']['nproc']} x {result['machine']['cpu_model']})", "",
             f"`{result.get('command', '')}`: {config['count']} worlds of {config['rows']:,} rows (world seed "
             f"{config['world_seed']}), training seeds {config['seeds']}, every model with its defaults; "
             f"{result['seconds'] / 60:.0f} min this time (finished runs in the workdir are reused). Test ROC AUC (%), "
             "mean over training seeds; seen / unseen = mean over a world's seen / unseen scenarios. Draw: features d, "
             "seen scenarios, unseen scenarios as (m)ixtures of seen latents or (n)ovel ones, soft-label pool.", ""]
    for column in ("seen", "unseen"):
        lines += [f"## {column.capitalize()} scenarios", "", *_markdown_table(*per_world_rows(result, column))]
    lines += ["## AutoTask against each peer", "", *_markdown_table(COMPARISON_HEADER, comparison_rows(result))]
    if result["unseen_rules"]:
        agreement = result["proxy_agreement"]
        lines += ["## Rules for unseen scenarios (same AutoTask weights)", "",
                  "Valid proxy: each seen scenario's validation rows scored without their own id. Rank agreement: "
                  "Spearman correlation over worlds of the proxy and the test AUC, per rule. The proxy picks the "
                  f"rule that is best on test in {100 * agreement['proxy_picks_test_best']:.0f}% of worlds.", "",
                  *_markdown_table(["rule", "valid proxy", "test unseen", "rank agreement"], rule_rows(result)),
                  "Onboarding: each unseen scenario's profile from its first N unlabelled onboarding rows (mean over "
                  "worlds, ± std over seeds).", "",
                  *_markdown_table(["scoring", "test unseen"], onboarding_rows(result))]
    lines += ["## Targets", "", *_markdown_table(["target", "measured", "met"],
                                                 [[t["target"], t["measured"], "yes" if t["met"] else "no"]
                                                  for t in result["targets"]])]
    return "\n".join(lines)


def worlds_figure(result: dict, path: Path) -> Path:
    """AutoTask - LightGBM per world, seen and unseen (bars), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = _per_world(result)
    wide = {column: frame.pivot(index="world", columns="model", values=column) for column in ("seen", "unseen")}
    worlds = list(wide["seen"].index)
    x = np.arange(len(worlds))
    figure, axis = plt.subplots(figsize=(max(6, 0.6 * len(worlds) + 2), 3.6))
    for offset, column in ((-0.2, "seen"), (0.2, "unseen")):
        gaps = wide[column]["AutoTask"] - wide[column]["LightGBM"]
        axis.bar(x + offset, gaps, width=0.4, label=column)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(x, worlds, rotation=45, ha="right")
    axis.set_ylabel("AutoTask − LightGBM (ROC AUC points)")
    axis.set_title("AutoTask − LightGBM per world (mean over training seeds)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
