"""Multi-task DNN baseline search space, for a fair comparison at an equal trial budget."""

from autotask.tuning.space import recipe_defaults, suggest_recipe

MODEL = "dnn"
AUXILIARY = {"width"}  # sampled to derive `hidden`, not a config field
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {**recipe_defaults(), "width": 64, "branch_hidden": 16, "dropout": 0.0}


def space(trial, d: int) -> dict:
    suggest_recipe(trial)
    width = trial.suggest_categorical("width", [32, 64, 128])
    trial.suggest_categorical("branch_hidden", [8, 16, 32])
    trial.suggest_float("dropout", 0.0, 0.3)
    return {"hidden": [width, width // 2]}
