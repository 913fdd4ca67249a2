"""A dataset's fingerprint: what a run directory records of the data it was trained on, to notice a rebuilt dataset.

Each Parquet file is summarised by its size and a hash of its first and last 64 KiB (a Parquet file ends in its
footer: schema, row counts and column statistics), and the manifest by a hash of its whole text. This reads
about 128 KiB per file, so it is cheap for a 10M-row dataset and for object stores, and unlike modification
times it survives a copy of the dataset to another place.
"""

from __future__ import annotations

import hashlib
import json

from autotask.data.contract import MANIFEST_NAME
from autotask.data.io import dataset_files
from autotask.location import Location

SAMPLE_BYTES = 64 * 1024


def _file_digest(file: Location) -> str:
    with file.filesystem.open_input_file(file.path) as stream:
        size = stream.size()
        digest = hashlib.sha256(str(size).encode())
        digest.update(stream.read_at(min(size, SAMPLE_BYTES), 0))
        if size > SAMPLE_BYTES:
            tail = min(SAMPLE_BYTES, size - SAMPLE_BYTES)
            digest.update(stream.read_at(tail, size - tail))
    return f"{size}:{digest.hexdigest()[:16]}"


def dataset_fingerprint(dataset: str) -> dict:
    """{"digest": one hash of everything, "files": {relative path: "size:hash"}} for a contract dataset."""
    location = Location.of(dataset)
    files = dataset_files(location)
    base = location.path.rstrip("/") + "/"
    entries = {file.path.removeprefix(base) or file.name: _file_digest(file) for file in files}
    manifest = location / MANIFEST_NAME
    if manifest.exists() and not location.is_file():
        entries[MANIFEST_NAME] = hashlib.sha256(manifest.read_text().encode()).hexdigest()[:16]
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
