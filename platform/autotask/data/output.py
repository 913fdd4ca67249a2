"""A build's output folder: checked before any work (a bad `--out` fails in a second, not after a build), and
published only once its one-part dataset has been written and validated in a staging folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from autotask.data.contract import ContractError
from autotask.data.manifest import Manifest
from autotask.data.validate import validate_dataset
from autotask.preflight import nearest_existing
from autotask.storage import discard_dir, publish_dir, staging_dir


def check_output(out: str | Path, overwrite: bool = False) -> None:
    """`out` must be a folder that does not exist yet (or may be replaced), under a folder that can hold it.

    Raises FileExistsError for an existing folder without `overwrite`, ContractError for any other bad path.
    """
    out = Path(out)
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise ContractError(f"--out {out}: is an existing file, not a dataset folder (choose another --out)")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass --overwrite to replace it)")
    parent = nearest_existing(out.absolute().parent)
    if not parent.is_dir():
        raise ContractError(f"--out {out}: {parent} is a file, so no folder can be made under it")


def publish_frame(frame: pd.DataFrame, manifest: Manifest, out: str | Path, overwrite: bool,
                  in_input_terms: Callable[[str, Path, Path], str]) -> None:
    """Write `frame` and `manifest` to a staging folder, validate, then publish `out`; on any failure the staging
    folder is removed and nothing appears under `out`. `in_input_terms(message, part, staging)` retells a
    validation message in the input's names."""
    staging = staging_dir(out).absolute()  # validation names files by absolute path
    try:
        part = staging / "data" / "part-00000.parquet"
        part.parent.mkdir()
        frame.to_parquet(part, index=False)
        manifest.write(staging)
        report = validate_dataset(staging)
        if not report.ok:
            raise ContractError([in_input_terms(m, part, staging) for m in report.errors])
    except BaseException:
        discard_dir(staging)
        raise
    publish_dir(staging, out, overwrite=overwrite)
