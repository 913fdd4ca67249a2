"""Write a serving artefact (TorchScript or ONNX) from a model or a trained run directory."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from autotask.serving.model import ServingModel, example_inputs, load_run_model, unseen_profile

FORMATS = ("torchscript", "onnx")
SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}
INPUT_NAMES = ("features", "task_ids")
OUTPUT_NAME = "probabilities"


def export_model(model: nn.Module, out: str | Path, fmt: str = "torchscript", unseen_profile=None) -> Path:
    """Export ServingModel(model, unseen_profile) to `out` (written to a temporary name, then renamed)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out}: a folder; give the artefact's file name (e.g. {out}/model{SUFFIXES[fmt]})")
    out.parent.mkdir(parents=True, exist_ok=True)
    serving = ServingModel(model.cpu(), unseen_profile)
    inputs = example_inputs(model.config.d, model.config.n_tasks, rows=8)
    tmp = out.with_name(f".{out.name}.tmp{SUFFIXES[fmt]}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer/exporter chatter about constant shapes of the fixed positions
            if fmt == "torchscript":
                torch.jit.save(torch.jit.freeze(torch.jit.trace(serving, inputs)), str(tmp))
            else:
                _export_onnx(serving, inputs, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _export_onnx(serving: nn.Module, inputs, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(serving, inputs, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                                dynamic_shapes=({0: batch}, {0: batch}), dynamo=True, verbose=False)
    program.save(str(path))


def artefact_format(path: str | Path) -> str:
    """`onnx` for a .onnx file, else `torchscript`."""
    return "onnx" if Path(path).suffix == ".onnx" else "torchscript"


def export_run(run_dir: str | Path, out: str | Path, fmt: str = "torchscript", profile_rows=None) -> Path:
    """The serving artefact of a trained run directory; `profile_rows` (z-scored features of a new scenario's rows)
    bakes that scenario's profile in for its id-0 rows."""
    model = load_run_model(run_dir)
    profile = None if profile_rows is None else unseen_profile(model, profile_rows)
    return export_model(model, out, fmt, profile)
