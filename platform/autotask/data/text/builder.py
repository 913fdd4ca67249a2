"""Text pairs -> contract dataset: read, label, assign scenarios and splits, extract features, publish."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import (
    EMBEDDING_DTYPES,
    LABEL,
    OFFER_EMBEDDING,
    OFFER_TEXT,
    QUERY_EMBEDDING,
    QUERY_ID,
    QUERY_TEXT,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SOFT_LABEL_POOL,
    SPLIT,
    SPLITS,
    TRAINING_SPLITS,
    ContractError,
)
from autotask.data.io import RunningStats, check_encoding
from autotask.data.manifest import Manifest
from autotask.data.output import check_output, publish_frame
from autotask.data.scenario_sizes import check_layout, check_min_rows, fold_small, folded_note, seen_and_unseen
from autotask.data.splits import assign_splits
from autotask.data.text.departments import departments
from autotask.data.text.embeddings import MODEL_NAME, EmbeddingCache, text_vectors
from autotask.data.text.features import FEATURES, extract_features
from autotask.data.text.reading import GRADE, GROUP, OFFER, QUERY, SCENARIO_RAW, LabelScale, pairs_frame, read_raw
from autotask.data.validate import ValidationReport, validate_dataset

# Queries (groups) are hashed into these shares. `pretrain` rows keep only the soft label (null hard label).
TEXT_FRACTIONS = {"pretrain": 0.3, "train": 0.3, "valid": 0.1, "calib": 0.1, "test": 0.2}
SCENARIO_RULES = {"departments": departments}  # rule name -> function of the offer texts
DEFAULT_SCENARIO = "all"
TEXT_EMBEDDINGS = {"minilm": MODEL_NAME}  # --text-embeddings NAME -> the packaged sentence model


@dataclass
class TextSpec:
    """Everything `build_text_dataset` needs; mirrors the `build_data.py text` flags."""

    input: Path
    query_col: str
    offer_col: str
    label_col: str
    label_scale: LabelScale = field(default_factory=LabelScale)
    threshold: float | None = None  # hard label = grade >= threshold; default: the scale's midpoint
    scenario_col: str | None = None
    scenario_rule: str | None = None
    group_col: str | None = None  # default: the query text
    unseen: tuple[str, ...] = ()
    encoding: str = "utf-8"
    limit: int | None = None
    fractions: dict[str, float] = field(default_factory=lambda: dict(TEXT_FRACTIONS))
    seed: int = 0
    cache_dir: Path | None = None
    keep_text: bool = False  # query_text / offer_text columns
    text_embeddings: str | None = None  # "minilm": query_embedding / offer_embedding columns
    embedding_dtype: str = "float16"
    min_scenario_rows: int | None = None  # fold scenarios below this many rows into one, "other"

    @property
    def cut(self) -> float:
        scale = self.label_scale
        return (scale.low + scale.high) / 2 if self.threshold is None else self.threshold


def check_spec(spec: TextSpec) -> None:
    """The flags themselves (before any reading): fractions, threshold, encoding, cache folder."""
    problems = []
    fractions = spec.fractions
    unknown = [name for name in fractions if name not in SPLITS]
    if unknown:
        problems.append(f"--fractions: unknown split(s) {unknown} (splits: {list(SPLITS)})")
    bad = {name: share for name, share in fractions.items() if not (math.isfinite(share) and share >= 0)}
    if bad:
        problems.append(f"--fractions: shares must be finite and >= 0, got {bad}")
    if not unknown and not bad:
        needed = {"a training split (pretrain or train)": TRAINING_SPLITS, "valid": ("valid",), "test": ("test",)}
        empty = [what for what, names in needed.items() if sum(fractions.get(n, 0) for n in names) <= 0]
        if empty:
            problems.append(f"--fractions {fractions}: needs a share > 0 for {', '.join(empty)}")
    low, high = spec.label_scale.low, spec.label_scale.high
    if not (low < spec.cut <= high):
        problems.append(
            f"--threshold {spec.cut:g}: must lie in ({low:g}, {high:g}] (the --label-scale), or every hard label is "
            f"the same class"
        )
    if spec.text_embeddings is not None and spec.text_embeddings not in TEXT_EMBEDDINGS:
        problems.append(f"--text-embeddings {spec.text_embeddings!r}: known models are {sorted(TEXT_EMBEDDINGS)}")
    if spec.embedding_dtype not in EMBEDDING_DTYPES:
        problems.append(f"--embedding-dtype {spec.embedding_dtype!r}: must be one of {list(EMBEDDING_DTYPES)}")
    if spec.cache_dir is not None and Path(spec.cache_dir).exists() and not Path(spec.cache_dir).is_dir():
        problems.append(f"--cache-dir {spec.cache_dir}: is a file, not a folder")
    for check in (lambda: check_encoding(spec.encoding), lambda: check_min_rows(spec.min_scenario_rows)):
        try:
            check()
        except ContractError as exc:
            problems += exc.messages
    if problems:
        raise ContractError(problems)


def read_pairs(spec: TextSpec) -> pd.DataFrame:
    """The checked pairs with a `scenario` column (from a column, a rule on the offer, or one scenario)."""
    if spec.scenario_col and spec.scenario_rule:
        raise ContractError("give --scenario-col or --scenario-rule, not both")
    if spec.scenario_rule and spec.scenario_rule not in SCENARIO_RULES:
        raise ContractError(f"--scenario-rule {spec.scenario_rule!r}: known rules are {sorted(SCENARIO_RULES)}")
    columns = {
        QUERY: spec.query_col,
        OFFER: spec.offer_col,
        GRADE: spec.label_col,
        GROUP: spec.group_col,
        SCENARIO_RAW: spec.scenario_col,
    }
    pairs = pairs_frame(read_raw(spec.input, spec.encoding, spec.limit), spec.input, columns, spec.label_scale)
    if spec.scenario_rule:
        pairs[SCENARIO_RAW] = SCENARIO_RULES[spec.scenario_rule](pairs[OFFER])
    elif not spec.scenario_col:
        pairs[SCENARIO_RAW] = DEFAULT_SCENARIO
    pairs[SCENARIO_RAW] = pairs[SCENARIO_RAW].astype(str)
    absent = [s for s in spec.unseen if s not in set(pairs[SCENARIO_RAW])]
    if absent:
        raise ContractError(f"{spec.input}: no rows for unseen scenario(s) {absent}")
    return pairs


def language_columns(pairs: pd.DataFrame, cache: EmbeddingCache, spec: TextSpec) -> dict[str, object]:
    """The optional text and embedding columns the spec asks for (an embedding cell: one row's vector)."""
    columns: dict[str, object] = {}
    if spec.keep_text:
        columns[QUERY_TEXT], columns[OFFER_TEXT] = pairs[QUERY].to_numpy(), pairs[OFFER].to_numpy()
    if spec.text_embeddings:
        for name, texts in ((QUERY_EMBEDDING, pairs[QUERY]), (OFFER_EMBEDDING, pairs[OFFER])):
            columns[name] = list(text_vectors(cache, texts.tolist()).astype(spec.embedding_dtype))
    return columns


def layout_frame(pairs: pd.DataFrame, spec: TextSpec) -> pd.DataFrame:
    """Ids, scenario, split and labels in the contract's columns: all that the coverage checks need, before any
    feature is extracted. A query with any row in an unseen scenario goes wholly to `test`, so no query crosses
    splits."""
    group = pairs[GROUP].astype(str)
    unseen_row = pairs[SCENARIO_RAW].isin(spec.unseen)
    unseen_group = unseen_row.groupby(group).transform("any").to_numpy()
    split = assign_splits(group, unseen_group, spec.fractions, spec.seed)
    grade = pairs[GRADE].to_numpy(dtype=np.float64)
    hard = pd.array((grade >= spec.cut).astype(np.int64), dtype="Int64")
    hard[split == SOFT_LABEL_POOL] = pd.NA
    return pd.DataFrame(
        {
            ROW_ID: np.arange(len(pairs), dtype=np.int64),
            SCENARIO: pairs[SCENARIO_RAW].to_numpy(),
            QUERY_ID: np.unique(group, return_inverse=True)[1].astype(np.int64),
            SPLIT: split,
            LABEL: hard,
            SOFT_LABEL: spec.label_scale.rescale(grade).astype(np.float32),
        }
    )


def contract_frame(pairs: pd.DataFrame, features: pd.DataFrame, spec: TextSpec,
                   language: dict[str, object] | None = None, layout: pd.DataFrame | None = None) -> pd.DataFrame:
    """The layout (`layout_frame`, computed unless given), the features and the optional language columns."""
    layout = layout_frame(pairs, spec) if layout is None else layout
    frame = pd.concat([layout, features.reset_index(drop=True)], axis=1)
    for name, values in (language or {}).items():
        frame[name] = values
    return frame


def make_manifest(frame: pd.DataFrame, spec: TextSpec) -> Manifest:
    """Seen scenarios (sorted) are those with rows in the training splits; the rest are unseen."""
    stats = RunningStats(len(FEATURES))
    stats.update(frame, FEATURES)
    mean, std = stats.result()
    seen, unseen = seen_and_unseen(frame, spec.unseen)
    source = {
        "kind": "text",
        "input": str(spec.input),
        "columns": {"query": spec.query_col, "offer": spec.offer_col, "label": spec.label_col},
        "label_scale": [spec.label_scale.low, spec.label_scale.high],
        "threshold": spec.cut,
        "scenario": spec.scenario_col or spec.scenario_rule or DEFAULT_SCENARIO,
        "fractions": spec.fractions,
        "seed": spec.seed,
        "limit": spec.limit,
        **({"min_scenario_rows": spec.min_scenario_rows} if spec.min_scenario_rows else {}),
    }
    texts = [QUERY_TEXT, OFFER_TEXT] if spec.keep_text else []
    embeddings = {}
    if spec.text_embeddings:
        width = len(frame[QUERY_EMBEDDING].iloc[0])
        embeddings = {"model": TEXT_EMBEDDINGS[spec.text_embeddings], "dtype": spec.embedding_dtype, "width": width,
                      "columns": [QUERY_EMBEDDING, OFFER_EMBEDDING]}
    return Manifest(features=list(FEATURES), scenarios=seen, unseen=unseen, mean=mean, std=std, source=source,
                    texts=texts, embeddings=embeddings)


def plan_text(spec: TextSpec, out: str | Path, overwrite: bool = False,
              notify=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Everything checked before the expensive part (features, embeddings): the flags, `out`, the cells, and the
    derived scenarios against the split fractions and the labels. Returns (pairs, layout). `notify(text)`: told which
    scenarios --min-scenario-rows folded (default: printed)."""
    check_spec(spec)
    check_output(out, overwrite)
    pairs = read_pairs(spec)
    pairs[SCENARIO_RAW], folded = fold_small(pairs[SCENARIO_RAW], spec.min_scenario_rows, spec.unseen)
    if folded:
        (notify or print)(folded_note(folded, spec.min_scenario_rows))
    layout = layout_frame(pairs, spec)
    derived = f"--scenario-rule {spec.scenario_rule}" if spec.scenario_rule else \
        f"--scenario-col {spec.scenario_col}" if spec.scenario_col else "one scenario"
    check_layout(layout, spec.unseen, spec.input, derived)
    return pairs, layout


def build_text_dataset(
    spec: TextSpec, out: str | Path, overwrite: bool = False, show_progress: bool = True, notify=None
) -> ValidationReport:
    """Build in a staging folder, validate, then publish `out` atomically.

    Whatever `plan_text` checks fails before any feature is extracted; on any failure the staging folder is removed
    and nothing appears under `out`. Validation messages name the input file (its rows are the staged file's rows).
    """
    pairs, layout = plan_text(spec, out, overwrite, notify)
    cache = EmbeddingCache(spec.cache_dir)
    features = extract_features(pairs, cache, show_progress)
    frame = contract_frame(pairs, features, spec, language_columns(pairs, cache, spec), layout)
    publish_frame(frame, make_manifest(frame, spec), out, overwrite,
                  lambda m, part, staging: _in_input_terms(m, part, staging, spec))
    return validate_dataset(out)


def _in_input_terms(message: str, part: Path, staging: Path, spec: TextSpec) -> str:
    """A validation message about the staged file, told as the input's (rows are the input's rows)."""
    return message.replace(str(part), f"{spec.input} (built)").replace(str(staging), f"{spec.input} (built)")
