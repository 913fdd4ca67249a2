"""A dataset's fingerprint: what a run directory records of the data it was trained on, to notice a rebuilt dataset.

Each Parquet file and the manifest are summarised by their size and a SHA-256 of their bytes. Content, not
modification times, so a copy of the dataset to another place keeps its fingerprint; reading the bytes costs
less than the validation that precedes every run (about 1 s per GB here).
"""

from __future__ import annotations

import hashlib
import json

from autotask.data.contract import MANIFEST_NAME
from autotask.data.io import dataset_files
from autotask.location import Location

CHUNK_BYTES = 8 * 1024 * 1024


def _file_digest(file: Location) -> str:
    digest, size = hashlib.sha256(), 0
    with file.filesystem.open_input_stream(file.path) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return f"{size}:{digest.hexdigest()[:16]}"


def dataset_fingerprint(dataset: str) -> dict:
    """{"digest": one hash of everything, "files": {relative path: "size:hash"}} for a contract dataset."""
    location = Location.of(dataset)
    files = dataset_files(location)
    base = location.path.rstrip("/") + "/"
    entries = {file.path.removeprefix(base) or file.name: _file_digest(file) for file in files}
    manifest = location / MANIFEST_NAME
    if not location.is_file() and manifest.exists():
        entries[MANIFEST_NAME] = _file_digest(manifest)
    digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:16]
    return {"digest": digest, "files": entries}


def describe_change(old: dict, new: dict, limit: int = 4) -> str:
    """'part-0001.parquet changed, part-0009.parquet added' for an error message."""
    old_files, new_files = old.get("files", {}), new.get("files", {})
    both = sorted(set(old_files) & set(new_files))
    changes = [f"{name} changed" for name in both if old_files[name] != new_files[name]]
    changes += [f"{name} removed" for name in sorted(set(old_files) - set(new_files))]
    changes += [f"{name} added" for name in sorted(set(new_files) - set(old_files))]
    more = f" (+{len(changes) - limit} more)" if len(changes) > limit else ""
    return ", ".join(changes[:limit]) + more
