"""STAR baseline search space: the learning rate, the star FCN's widths, the auxiliary network and the share of
training rows routed through the shared centre (id 0). Shared, domain and auxiliary parameters all train at
`lr_head` (set `lr_groups` in a run config to split them)."""

from autotask.tuning.space import recipe_defaults, suggest_recipe

MODEL = "star"
AUXILIARY = {"width"}  # sampled to derive `hidden`, not a config field
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {**recipe_defaults(), "width": 64, "aux_hidden": 16, "task_id_dropout": 0.1, "dropout": 0.0}


def space(trial, d: int) -> dict:
    suggest_recipe(trial)
    width = trial.suggest_categorical("width", [32, 64, 128])
    trial.suggest_categorical("aux_hidden", [8, 16, 32])
    trial.suggest_float("task_id_dropout", 0.0, 0.3)
    trial.suggest_float("dropout", 0.0, 0.3)
    return {"hidden": [width, width // 2]}
