"""A dataset's fingerprint notices a rebuilt dataset, survives a copy, and names what changed."""

from __future__ import annotations

import shutil

from autotask.data.fingerprint import dataset_fingerprint, describe_change


def test_a_copy_has_the_same_fingerprint_and_an_edit_inside_a_file_is_named(dataset_copy, sim_dataset, tmp_path):
    original = dataset_fingerprint(str(sim_dataset))
    assert dataset_fingerprint(str(dataset_copy.path)) == original  # content, not paths or modification times
    data = bytearray(dataset_copy.part.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte inside the file, same size, footer untouched
    dataset_copy.part.write_bytes(bytes(data))
    changed = dataset_fingerprint(str(dataset_copy.path))
    assert changed["digest"] != original["digest"]
    assert describe_change(original, changed) == f"data/{dataset_copy.part.name} changed"


def test_added_removed_and_manifest_changes_are_named(dataset_copy, sim_dataset):
    original = dataset_fingerprint(str(sim_dataset))
    shutil.copy(dataset_copy.part, dataset_copy.part.with_name("part-extra.parquet"))
    dataset_copy.write_manifest({**dataset_copy.manifest(), "note": "rebuilt"})
    change = describe_change(original, dataset_fingerprint(str(dataset_copy.path)))
    assert "data/part-extra.parquet added" in change and "manifest.json changed" in change
