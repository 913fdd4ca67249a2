"""A copy of a contract dataset whose features are normal-quantile transformed, the transform fitted on the training
splits (pretrain, train): the preprocessing of Gorishniy et al. 2021 in place of the project's z-scores, tried as a
data-level check before building it into the model (docs/home-depot.md, "How far is LightGBM").

  .venv/bin/python scripts/recipe-selection/quantile_copy.py data/home-depot data/qt/home-depot
  for s in 0 1 2; do .venv/bin/python runners/train.py --data data/qt/home-depot --out data/qt/runs/hd-seed$s \
      --seed $s; done
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import QuantileTransformer

TRAINING_SPLITS = ("pretrain", "train")


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        sys.exit(f"{out}: already exists; give a new folder (nothing was written)")
    manifest = json.loads((source / "manifest.json").read_text())
    features = manifest["features"]
    frames = {path: pd.read_parquet(path) for path in sorted((source / "data").rglob("*.parquet"))}
    rows = pd.concat(frames.values())
    training = rows.loc[rows["split"].isin(TRAINING_SPLITS), features].to_numpy()
    transform = QuantileTransformer(n_quantiles=1000, output_distribution="normal", subsample=len(training),
                                    random_state=0).fit(training)
    for path, frame in frames.items():
        frame = frame.copy()
        frame[features] = transform.transform(frame[features].to_numpy()).astype(frame[features].dtypes.iloc[0])
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target, index=False)
    transformed = transform.transform(training)
    manifest["mean"], manifest["std"] = transformed.mean(0).tolist(), np.maximum(transformed.std(0), 1e-6).tolist()
    (out / "manifest.json").write_text(json.dumps(manifest))
    print(f"{len(rows)} rows, {len(features)} features -> {out}")


if __name__ == "__main__":
    main()
