"""Nested config dicts as dotted names (`training.lr_head`): for config diffs, report grouping and tracking params."""

from __future__ import annotations


def flat_config(config: dict, prefix: str = "", keep_empty: bool = False) -> dict[str, object]:
    """`{"training": {"lr_head": 0.002}}` -> `{"training.lr_head": 0.002}`; an empty sub-dict is kept as a value
    when `keep_empty`, else it contributes no name."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and (value or not keep_empty):
            flat.update(flat_config(value, f"{name}.", keep_empty))
        else:
            flat[name] = value
    return flat
