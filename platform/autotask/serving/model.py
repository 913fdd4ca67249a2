"""The serving wrapper: z-scored features [b, d] float32 and task ids [b] int64 -> probabilities [b].

Serving scores each row on its own (facet-2 block size 1), so a request's answer never depends on the rows that
happen to arrive with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from autotask.models.interface import SERVING_BLOCK_SIZE
from autotask.models.registry import stored_model_config, torch_kinds


class ServingModel(nn.Module):
    """Probabilities of the model's `score` output at block size 1, in eval mode.

    `unseen_profile` [n_tasks] (AutoTask only): the seen-id weights of ONE new scenario, estimated from a sample of
    its rows (`AutoTask.scenario_profile`); rows with task id 0 are then scored with it, each still on its own, so
    the artefact serves that scenario as the in-context mode (`score_context`) scored it.
    """

    def __init__(self, model: nn.Module, unseen_profile: Tensor | None = None):
        super().__init__()
        self.model = model
        if unseen_profile is not None and not hasattr(model, "scenario_profile"):
            raise ValueError(f"{type(model).__name__} has no unseen-scenario profiles (AutoTask with a gate has)")
        self.register_buffer("unseen_profile", unseen_profile)
        self.eval()

    def forward(self, features: Tensor, task_ids: Tensor) -> Tensor:
        if self.unseen_profile is None:
            return self.model.score(features, task_ids, block_size=SERVING_BLOCK_SIZE)["score"]
        return self.model.score(features, task_ids, block_size=SERVING_BLOCK_SIZE, profile=self.unseen_profile)["score"]


def load_run_model(run_dir: str | Path) -> nn.Module:
    """The trained torch model of a run directory (RUN_DIR/model/weights.pt + model_config.json), in eval mode."""
    model_dir = Path(run_dir) / "model"
    if not (model_dir / "model_config.json").exists():
        run_config = Path(run_dir) / "config.json"
        kind = json.loads(run_config.read_text()).get("model") if run_config.exists() else None
        if kind and kind not in torch_kinds():
            raise ValueError(f"{run_dir}: a {kind} run; only torch models ({', '.join(torch_kinds())}) export to "
                             f"a serving artefact")
        raise ValueError(f"{run_dir}: not a finished run directory (no model/model_config.json); train it with "
                         "runners/train.py first")
    config = json.loads((model_dir / "model_config.json").read_text())
    kind = config["kind"]
    if kind not in torch_kinds():
        raise ValueError(f"{model_dir}: model kind {kind!r} cannot be served (torch models: {list(torch_kinds())})")
    model = torch_kinds()[kind].model_cls(stored_model_config(config))
    model.load_state_dict(torch.load(model_dir / "weights.pt", weights_only=True, map_location="cpu"))
    return model.eval()


@torch.no_grad()
def unseen_profile(model: nn.Module, features) -> Tensor:
    """The profile of one new scenario from its rows' z-scored features [n, d] (no labels needed)."""
    if getattr(model, "gate", None) is None:
        raise ValueError(f"{type(model).__name__} has no gate to profile a new scenario with (AutoTask's unseen rule "
                         "must be zero, mixture or gated, and its task-id mode not none)")
    return model.scenario_profile(torch.as_tensor(features, dtype=torch.float32))


def example_inputs(d: int, n_tasks: int, rows: int = 4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random z-scored features and task ids (0..n_tasks), for tracing, export checks and benchmarks."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(rows, d, generator=generator)
    task_ids = torch.randint(0, n_tasks + 1, (rows,), generator=generator)
    return features, task_ids
