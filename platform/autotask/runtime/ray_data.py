"""Ray Data wiring: read the contract's Parquet lazily (local or a pyarrow URI), one model-input dataset per split."""

from __future__ import annotations

import ray.data

from autotask.data.io import column_names, dataset_files
from autotask.data.manifest import Manifest
from autotask.training.batches import TRAIN_STAGES, SplitPreprocessor, require_row_ids, training_columns

PREPROCESS_CPUS = 0.25  # small tasks: leave room for the Train workers on a 2-core machine

MATERIALIZE_BELOW_ROWS = 2_000_000  # small data is materialised once instead of re-read every epoch
# Ray Data's Parquet reader: "v1" takes the validated file list as is; "v2" (Ray 2.60's default, DataSourceV2) lists
# the files again in a 1-CPU task per dataset (3-10 s each on 2 cores) and its read tasks held 3x the memory at 10M
# rows for the same throughput. `runners/bench.py --suite readers` sets "v2" for its A/B.
PARQUET_READER = "v1"


def read_parquet_files(files: list, columns: list[str], blocks_per_file: bool = False) -> ray.data.Dataset:
    """A lazy Ray dataset over the contract's Parquet files (a list of Locations on one filesystem), read with
    `PARQUET_READER`. `blocks_per_file`: one block per file, so block boundaries never depend on Ray's parallelism.
    """
    blocks = len(files) if blocks_per_file else None
    context = ray.data.DataContext.get_current()
    saved, context.use_datasource_v2 = context.use_datasource_v2, PARQUET_READER == "v2"
    try:
        return ray.data.read_parquet([f.path for f in files], filesystem=files[0].filesystem, columns=columns,
                                     num_cpus=PREPROCESS_CPUS, override_num_blocks=blocks)
    finally:
        context.use_datasource_v2 = saved


def present_columns(files: list, wanted: list[str]) -> list[str]:
    """The wanted columns the dataset's files hold, in the wanted order, each once."""
    present = set(column_names(files[0]))
    return [c for c in dict.fromkeys(wanted) if c in present]


def read_split(data: str, manifest: Manifest, split: str, soft: bool, language: bool = False) -> ray.data.Dataset:
    """A lazy dataset of one split's model inputs (features z-scored with the manifest's statistics; the text
    embeddings after them when `language`)."""
    files = dataset_files(data)
    columns = present_columns(files, training_columns(manifest, language))
    require_row_ids(data, columns)
    dataset = read_parquet_files(files, columns)
    preprocess = SplitPreprocessor(manifest.to_dict(), split, soft, language)
    return dataset.map_batches(preprocess, batch_format="pandas", num_cpus=PREPROCESS_CPUS)


def finetune_pool_rows(row_counts: dict[str, int], pool_in_finetune: bool) -> int:
    """Rows of the soft-label pool that join the fine-tuning dataset (`pool_in_finetune`; 0 without a pool)."""
    return row_counts.get("pretrain", 0) if pool_in_finetune else 0


def training_datasets(data: str, manifest: Manifest, row_counts: dict[str, int], language: bool = False,
                      pool_in_finetune: bool = False) -> dict[str, ray.data.Dataset]:
    """The datasets a training run consumes: `pretrain` and `train` are sharded, `valid` goes whole to every worker.
    `pool_in_finetune`: the fine-tuning dataset `train` also holds the soft-label pool's rows (when it has any)."""
    datasets = {name: read_split(data, manifest, split, soft, language)
                for name, (split, soft) in TRAIN_STAGES.items()}
    if finetune_pool_rows(row_counts, pool_in_finetune):
        datasets["train"] = datasets["train"].union(datasets["pretrain"])
    datasets["valid"] = read_split(data, manifest, "valid", soft=False, language=language)
    if sum(row_counts.values()) < MATERIALIZE_BELOW_ROWS:
        datasets = {name: ds.materialize() for name, ds in datasets.items()}
    return datasets
