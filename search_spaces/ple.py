"""PLE / CGC baseline search space: the learning rate, the experts (shared, per task, levels) and the towers.
Experts, gates and towers all train at `lr_head` (set `lr_groups` in a run config to split them)."""

MODEL = "ple"
AUXILIARY = {"width"}  # sampled to derive `expert_hidden`, not a config field


def space(trial, d: int) -> dict:
    trial.suggest_float("lr_head", 1e-4, 5e-3, log=True)
    trial.suggest_int("n_shared", 1, 3)
    trial.suggest_int("n_specific", 1, 2)
    trial.suggest_int("n_levels", 1, 2)  # 1 = CGC
    width = trial.suggest_categorical("width", [32, 64, 128])
    trial.suggest_categorical("tower_hidden", [8, 16, 32])
    trial.suggest_float("dropout", 0.0, 0.3)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    trial.suggest_int("epochs_pretrain", 5, 30)  # capped by the base run's --epochs-pretrain
    trial.suggest_int("epochs_finetune", 5, 45)  # capped by the base run's --epochs-finetune
    return {"expert_hidden": [width, width // 2]}
