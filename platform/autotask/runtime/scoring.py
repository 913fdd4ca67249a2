"""Score the evaluation splits on Ray Data: features stay in the cluster, the driver receives prediction columns only
(row id, scenario, split, label, query id, oracle, scores), so no split's features are ever loaded into the driver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import ray
import ray.data
import torch

from autotask.data.contract import LABEL, ORACLE_P, QUERY_ID, ROW_ID, SCENARIO, SPLIT
from autotask.data.io import dataset_files, read_table
from autotask.data.manifest import Manifest
from autotask.models.language import input_width, reads_language
from autotask.models.registry import build_model
from autotask.runtime.ray_data import present_columns, read_parquet_files
from autotask.training.batches import input_columns, to_model_inputs
from autotask.training.outputs import EVAL_SPLITS, prediction_frame
from autotask.training.steps import predict

MAX_SCORERS = 4
SCORER_CPUS = 0.5  # fractional, like the Train workers: a 2-core machine still has room for Ray Data's own tasks


class EvalScorer:
    """Ray Data `map_batches` actor (the model is built once per actor): a block's eval rows -> prediction columns.

    A batch is a whole input block; facet-2 blocks of `block_size` rows form within it, from rows of one scenario
    and one split (file order), so a test row never shares a block with a validation row and the scores do not
    depend on the order in which Ray executes the blocks. At block size 1 (the default protocol) every row is
    scored on its own, exactly as served. Models with an in-context mode add its column (AutoTask's
    `score_context`: an unseen scenario's profile estimated from its rows of this block and split).
    """

    def __init__(self, kind: str, model_config: dict, manifest: dict, state: dict, block_size: int, threads: int = 1):
        torch.set_num_threads(threads)
        self.block_size = block_size
        self.manifest = Manifest.from_dict(manifest)
        self.model = build_model(kind, model_config, self.manifest)
        self.model.load_state_dict(state)
        self.model.eval()
        self.language = reads_language(model_config)
        probe = predict(self.model, np.zeros((1, input_width(self.model.config)), np.float32), np.zeros(1, np.int64),
                        in_context=True)
        self.score_names = list(probe)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        frame = batch[batch[SPLIT].isin(EVAL_SPLITS)].reset_index(drop=True)
        inputs = to_model_inputs(frame, self.manifest, language=self.language)
        if len(frame) == 0:
            scores = {name: np.empty(0, np.float32) for name in self.score_names}
        else:
            split_code = frame[SPLIT].map({split: i for i, split in enumerate(EVAL_SPLITS)}).to_numpy()
            groups = inputs["group"] * len(EVAL_SPLITS) + split_code
            scores = predict(self.model, inputs["features"], inputs["task_id"], groups=groups,
                             block_size=self.block_size, in_context=True)
        return prediction_frame(frame, inputs, scores)


def score_eval_splits(data: str, manifest: Manifest, kind: str, model_config: dict, state: dict,
                      block_size: int, in_process: bool = False) -> pd.DataFrame:
    """predictions.parquet's rows for valid/calib/test, sorted by row id, scored with facet-2 blocks of `block_size`
    rows (the run's protocol) by a few Ray Data actors, or, `in_process`, by one scorer here, a file at a time (the
    same blocks: one per file)."""
    files = dataset_files(data)
    language = reads_language(model_config)
    wanted = [ROW_ID, SCENARIO, SPLIT, LABEL, QUERY_ID, ORACLE_P, *input_columns(manifest, language)]
    columns = present_columns(files, wanted)
    state = {key: value.detach().cpu() for key, value in state.items()}
    if in_process:
        scorer = EvalScorer(kind, model_config, manifest.to_dict(), state, block_size, threads=torch.get_num_threads())
        scored = pd.concat([scorer(read_table(file, columns)) for file in files], ignore_index=True)
        return scored.sort_values(ROW_ID, kind="stable").reset_index(drop=True)
    dataset = read_parquet_files(files, columns, blocks_per_file=True)
    scorers = max(1, min(MAX_SCORERS, int(ray.cluster_resources().get("CPU", 1)) // 2))
    scored = dataset.map_batches(
        EvalScorer,
        fn_constructor_kwargs={"kind": kind, "model_config": model_config, "manifest": manifest.to_dict(),
                               "state": state, "block_size": block_size},
        batch_size=None,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=scorers),
        num_cpus=SCORER_CPUS,
    )
    return scored.to_pandas().sort_values(ROW_ID, kind="stable").reset_index(drop=True)
