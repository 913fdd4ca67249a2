"""Atomic writes: outputs appear whole under their final name or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write(path: str | Path, writer: Callable[[str], object]) -> None:
    """Call writer(tmp_path) then rename tmp_path to path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_parquet(frame, path: str | Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def staging_dir(final: str | Path) -> Path:
    """A fresh sibling folder to build `final` in before `publish_dir`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the published folder should be shareable
    return staging


def discard_dir(staging: str | Path) -> None:
    """Remove a staging folder after a failed build (never the final name)."""
    shutil.rmtree(staging, ignore_errors=True)


def publish_dir(staging: str | Path, final: str | Path, overwrite: bool = False) -> None:
    """Rename a finished staging folder to its final name (replacing an old one when allowed)."""
    final = Path(final)
    if final.exists():
        if not overwrite:
            shutil.rmtree(staging, ignore_errors=True)
            raise FileExistsError(f"{final} already exists (pass --overwrite to replace it)")
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
