"""Evaluation: per-scenario metrics (metrics), fast weighted AUCs (fast_auc), paired bootstrap deltas
(bootstrap), the model-selection metric (selection)."""
