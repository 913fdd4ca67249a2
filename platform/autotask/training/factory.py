"""Moved: `build_model` and `model_config` are the model registry's (`autotask.models.registry`). This name stays for
code written before the move; new code imports them from the registry."""

from autotask.models.registry import build_model, model_config  # noqa: F401
