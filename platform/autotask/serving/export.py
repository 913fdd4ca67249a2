"""Write a serving artefact (ONNX by default, or TorchScript) from a model or a trained run directory.

ONNX is exported with torch.export (`torch.onnx.export(dynamo=True)`). TorchScript (torch.jit.trace, freeze, save) is
deprecated since PyTorch 2.11; it is still written for a `.pt` file or `fmt="torchscript"`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from autotask.models.language import input_width
from autotask.serving.model import ServingModel, example_inputs, load_run_model, unseen_profile

FORMATS = ("torchscript", "onnx")
SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}
INPUT_NAMES = ("features", "task_ids")
OUTPUT_NAME = "probabilities"
TORCHSCRIPT_DEPRECATED = ("TorchScript is deprecated since PyTorch 2.11 (torch.jit.trace/freeze/save); this artefact "
                          "still loads with torch.jit.load, but ONNX is the default and the supported format")
# Known warnings of the exporters, each understood and harmless here (anything else is shown):
KNOWN_WARNINGS = (
    # torch.jit.trace: the serving model turns fixed position counts into Python ints, constants by design
    (r"Converting a tensor to a Python (integer|index)", torch.jit.TracerWarning),
    # torch.jit.trace/freeze/save each announce their deprecation: said once, as TORCHSCRIPT_DEPRECATED
    (r"`torch\.jit\.\w+` is deprecated", DeprecationWarning),
    # torch.export's own use of a deprecated pytree API (inside PyTorch, nothing to change here)
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
)


def export_model(model: nn.Module, out: str | Path, fmt: str = "onnx", unseen_profile=None) -> Path:
    """Export ServingModel(model, unseen_profile) to `out` (written to a temporary name, then renamed)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out}: a folder; give the artefact's file name (e.g. {out}/model{SUFFIXES[fmt]})")
    out.parent.mkdir(parents=True, exist_ok=True)
    serving = ServingModel(model.cpu(), unseen_profile)
    inputs = example_inputs(input_width(model.config), model.config.n_tasks, rows=8)
    tmp = out.with_name(f".{out.name}.tmp{SUFFIXES[fmt]}")
    try:
        with torch.no_grad(), warnings.catch_warnings(), _without_torchvision_notices():
            for message, category in KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            if fmt == "torchscript":
                torch.jit.save(torch.jit.freeze(torch.jit.trace(serving, inputs)), str(tmp))
            else:
                _export_onnx(serving, inputs, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _export_onnx(serving: nn.Module, inputs, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1)  # task_ids' rows: inferred equal to features' (AUTO), one axis name
    program = torch.onnx.export(serving, inputs, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                                dynamic_shapes=({0: batch}, {0: torch.export.Dim.AUTO}), dynamo=True, verbose=False)
    program.save(str(path))


class _DropTorchvisionNotices(logging.Filter):
    """The ONNX exporter logs a WARNING per torchvision operator it skips when torchvision is not installed (it is
    not used here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("torchvision is not installed")


@contextlib.contextmanager
def _without_torchvision_notices():
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    drop = _DropTorchvisionNotices()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def export_format(out: str | Path) -> str:
    """The format to write `out` in when none is asked for: TorchScript for a .pt file, else ONNX."""
    return "torchscript" if Path(out).suffix == ".pt" else "onnx"


def artefact_format(path: str | Path) -> str:
    """The format of an artefact: an existing file by its content (TorchScript is a zip archive, ONNX a protobuf),
    else by its name as `export_format`."""
    path = Path(path)
    if path.is_file():
        with path.open("rb") as f:
            return "torchscript" if f.read(4) == b"PK\x03\x04" else "onnx"
    return export_format(path)


def export_run(run_dir: str | Path, out: str | Path, fmt: str | None = None, profile_rows=None) -> Path:
    """The serving artefact of a trained run directory; `profile_rows` (z-scored features of a new scenario's rows)
    bakes that scenario's profile in for its id-0 rows."""
    model = load_run_model(run_dir)
    profile = None if profile_rows is None else unseen_profile(model, profile_rows)
    return export_model(model, out, fmt or export_format(out), profile)
