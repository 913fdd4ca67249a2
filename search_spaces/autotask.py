"""AutoTask search space: each facet's learning rate and embedding size under d·e1 = e2.

e1 is sampled from values the attention heads divide; e2 = d·e1 is derived and returned as a constant,
never sampled. Heads are 1 per facet here so every e1 (and e2) is compatible. The rule for unseen scenarios is
not searched: model selection sees only seen scenarios' validation rows, which it does not change.
"""

from autotask.tuning.space import recipe_defaults, suggest_recipe

E1_CHOICES = [4, 8, 12, 16]
MODEL = "autotask"
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {**recipe_defaults(("lr_facet1", "lr_facet2")), "e1": 8, "block_size": 16, "n_layer1": 1, "n_layer2": 1,
            "dropout1": 0.0, "dropout2": 0.0, "tokenizer": "shared"}


def space(trial, d: int) -> dict:
    suggest_recipe(trial, ("lr_facet1", "lr_facet2"))
    e1 = trial.suggest_categorical("e1", E1_CHOICES)
    trial.suggest_categorical("block_size", [4, 8, 16, 32])
    trial.suggest_int("n_layer1", 1, 2)
    trial.suggest_int("n_layer2", 1, 2)
    trial.suggest_float("dropout1", 0.0, 0.3)
    trial.suggest_float("dropout2", 0.0, 0.3)
    trial.suggest_categorical("tokenizer", ["shared", "per-feature", "periodic", "piecewise"])
    return {"e2": d * e1}
