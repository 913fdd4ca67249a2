"""PLE / CGC baseline search space: the learning rate, the experts (shared, per task, levels) and the towers.
Experts, gates and towers all train at `lr_head` (set `lr_groups` in a run config to split them)."""

from autotask.tuning.space import recipe_defaults, suggest_recipe

MODEL = "ple"
AUXILIARY = {"width"}  # sampled to derive `expert_hidden`, not a config field
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {**recipe_defaults(), "n_shared": 1, "n_specific": 1, "n_levels": 1, "width": 64, "tower_hidden": 16,
            "dropout": 0.0}


def space(trial, d: int) -> dict:
    suggest_recipe(trial)
    trial.suggest_int("n_shared", 1, 3)
    trial.suggest_int("n_specific", 1, 2)
    trial.suggest_int("n_levels", 1, 2)  # 1 = CGC
    width = trial.suggest_categorical("width", [32, 64, 128])
    trial.suggest_categorical("tower_hidden", [8, 16, 32])
    trial.suggest_float("dropout", 0.0, 0.3)
    return {"expert_hidden": [width, width // 2]}
