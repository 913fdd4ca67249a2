"""Column names and rules of the data contract (docs: README "Data contract")."""

from __future__ import annotations

from autotask.errors import ContractError  # noqa: F401 (its home for data code: autotask.errors, below every layer)

SCENARIO = "scenario"
LABEL = "label"
SOFT_LABEL = "soft_label"
SPLIT = "split"
QUERY_ID = "query_id"
ORACLE_P = "oracle_p"
ROW_ID = "row_id"
# Optional language columns (`build_data.py text|home-depot --keep-text / --text-embeddings`), listed in the manifest:
QUERY_TEXT, OFFER_TEXT = "query_text", "offer_text"
QUERY_EMBEDDING, OFFER_EMBEDDING = "query_embedding", "offer_embedding"  # fixed-size lists of float16/float32
EMBEDDING_DTYPES = ("float16", "float32")

ONBOARD = "onboard"  # unlabelled rows of an unseen scenario, for estimating its profile; never trained or scored on
SPLITS = ("pretrain", "train", "valid", "calib", "test", ONBOARD)
TRAINING_SPLITS = ("pretrain", "train")  # z-score statistics come from these only
SOFT_LABEL_POOL = "pretrain"  # the only split whose hard label may be null (besides ONBOARD, whose labels must be)
UNSEEN_TASK_ID = 0
MANIFEST_NAME = "manifest.json"
FEATURE_DTYPE = "float32"
FLOAT32_MAX = 3.4028234663852886e38  # numpy.finfo(float32).max: a larger feature value reads as inf
RESERVED = {ROW_ID, ORACLE_P, QUERY_ID, SCENARIO, LABEL, SOFT_LABEL, SPLIT, QUERY_TEXT, OFFER_TEXT, QUERY_EMBEDDING,
            OFFER_EMBEDDING}  # never a feature's name


def format_rows(rows, limit: int = 5) -> str:
    """'rows 3, 17, 42 (+12 more)' for error messages (0-based row numbers within the file)."""
    rows = list(rows)
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return f"row{'s' if len(rows) != 1 else ''} {shown}{more}"
