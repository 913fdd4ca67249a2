"""LightGBM search space: the same trial budget as the neural models (tree size, learning rate, leaf size,
feature and row sampling, L2 regularisation). Boosting rounds are not searched: each trial early-stops on the
validation split."""

MODEL = "lightgbm"
# The kind's default config, enqueued as the search's first trial: a search never picks worse than the default
# on validation.
DEFAULTS = {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 50, "feature_fraction": 0.9,
            "bagging_fraction": 0.8, "lambda_l2": 1.0}


def space(trial, d: int) -> None:
    trial.suggest_float("learning_rate", 0.01, 0.2, log=True)
    trial.suggest_int("num_leaves", 7, 255, log=True)
    trial.suggest_int("min_data_in_leaf", 5, 200, log=True)
    trial.suggest_float("feature_fraction", 0.5, 1.0)
    trial.suggest_float("bagging_fraction", 0.5, 1.0)
    trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True)
