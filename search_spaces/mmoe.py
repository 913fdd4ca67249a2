"""MMoE baseline search space: the learning rate, the experts and the towers, for a fair comparison at an equal
trial budget. Experts, gates and towers all train at `lr_head` (set `lr_groups` in a run config to split them)."""

from autotask.tuning.space import recipe_defaults, suggest_recipe

MODEL = "mmoe"
AUXILIARY = {"width"}  # sampled to derive `expert_hidden`, not a config field
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {**recipe_defaults(), "n_experts": 4, "width": 64, "tower_hidden": 16, "dropout": 0.0}


def space(trial, d: int) -> dict:
    suggest_recipe(trial)
    trial.suggest_categorical("n_experts", [2, 4, 8])
    width = trial.suggest_categorical("width", [32, 64, 128])
    trial.suggest_categorical("tower_hidden", [8, 16, 32])
    trial.suggest_float("dropout", 0.0, 0.3)
    return {"expert_hidden": [width, width // 2]}
