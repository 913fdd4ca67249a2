"""Checks on a build's output folder, made before any work so a bad `--out` fails in a second, not after a build."""

from __future__ import annotations

from pathlib import Path

from autotask.data.contract import ContractError


def check_output(out: str | Path, overwrite: bool = False) -> None:
    """`out` must be a folder that does not exist yet (or may be replaced), under a folder that can hold it.

    Raises FileExistsError for an existing folder without `overwrite`, ContractError for any other bad path.
    """
    out = Path(out)
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise ContractError(f"--out {out}: is an existing file, not a dataset folder (choose another --out)")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass --overwrite to replace it)")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ContractError(f"--out {out}: {parent} is a file, so no folder can be made under it")
