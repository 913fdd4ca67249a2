"""The held-out check of an onboarding estimator chosen with select_profile.py: every estimator on the benchmark's
AutoTask runs, against LightGBM's unseen means from the benchmark's results (docs/worlds.md, "Onboarding by EM").
A check after the choice, never the choice itself.

  .venv/bin/python scripts/recipe-selection/check_profile_heldout.py --rows 200 \
      --workdir data/bench-worlds-v4 --results docs/results/worlds.json

Per estimator: the mean unseen test ROC AUC (%) with a profile from the first N onboarding rows (mean over worlds of
the mean over seeds), its gap to LightGBM, the worlds where it beats the gate's profile (`gate profile, power 2`),
its worst world against it, and its mean std over training seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch
from select_profile import dataset_row

REFERENCE = "gate profile, power 2"  # the default when the check was written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="the worlds benchmark's --workdir")
    p.add_argument("--results", required=True, help="the worlds benchmark's JSON results (LightGBM's unseen means)")
    p.add_argument("--rows", type=int, default=200, help="onboarding rows per unseen scenario")
    args = p.parse_args()
    torch.set_num_threads(1)
    workdir = Path(args.workdir)
    records = [{"world": run.parent.name, **dataset_row(workdir / "worlds" / run.parent.name, run, args.rows)}
               for run in sorted(workdir.glob("runs/world-*/autotask-seed*"))
               if (run / "predictions.parquet").exists()]
    runs = pd.DataFrame(records)
    per_world = runs.groupby("world").mean()
    results = pd.DataFrame(json.loads(Path(args.results).read_text())["per_world"])
    lightgbm = results[results["model"] == "LightGBM"].set_index("world")["unseen"]
    against_gate = per_world.sub(per_world[REFERENCE], axis=0)
    table = pd.DataFrame({"mean AUC": per_world.mean(), "gap to LightGBM": per_world.sub(lightgbm, axis=0).mean(),
                          "worlds ahead of the gate profile": (against_gate > 0).sum(),
                          "worst world vs the gate profile": against_gate.min(),
                          "mean std over seeds": runs.groupby("world").std().mean()})
    print(f"{len(per_world)} worlds, {len(runs)} runs, {args.rows} onboarding rows\n" + table.round(2).to_string())


if __name__ == "__main__":
    main()
