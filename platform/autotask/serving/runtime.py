"""Predictors: numpy (features [b, d] float32, task ids [b] int64) -> probabilities [b] float32.

One per serving form: eager PyTorch, a TorchScript artefact, an ONNX Runtime artefact. `threads` fixes the CPU
threads used (torch's are per process); on `cuda`, eager inference runs under float16 autocast.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autotask.serving.export import artefact_format
from autotask.serving.model import ServingModel


class TorchPredictor:
    """Eager ServingModel or a loaded TorchScript module, on `device` (autocast float16 on cuda when eager)."""

    def __init__(self, module: nn.Module, threads: int = 1, device: str = "cpu", autocast: bool = False):
        torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.autocast = autocast and self.device.type == "cuda"

    def __call__(self, features: np.ndarray, task_ids: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(features).to(self.device, non_blocking=True)
        ids = torch.from_numpy(task_ids).to(self.device, non_blocking=True)
        amp = torch.autocast("cuda", dtype=torch.float16) if self.autocast else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            return self.module(x, ids).float().cpu().numpy()


class OnnxPredictor:
    """An ONNX Runtime session over an exported artefact (CUDA provider first on cuda, when installed)."""

    def __init__(self, path: str | Path, threads: int = 1, device: str = "cpu"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError("onnxruntime has no CUDAExecutionProvider here: install onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(path), options, providers=providers)

    def __call__(self, features: np.ndarray, task_ids: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"features": features, "task_ids": task_ids})[0]


def eager_predictor(model: nn.Module, threads: int = 1, device: str = "cpu") -> TorchPredictor:
    """Eager inference on a copy of `model` (the caller's model stays on its device)."""
    return TorchPredictor(ServingModel(copy.deepcopy(model)), threads, device, autocast=True)


def load_predictor(path: str | Path, threads: int = 1, device: str = "cpu", fmt: str | None = None):
    """A predictor for an artefact written by `autotask.serving.export` (format told by its suffix by default)."""
    if (fmt or artefact_format(path)) == "onnx":
        return OnnxPredictor(path, threads, device)
    if device != "cpu":  # the trace froze CPU weights and CPU-built index tensors into its graph
        raise RuntimeError(f"{path}: TorchScript artefacts are traced for the CPU; on {device} use the eager model")
    return TorchPredictor(torch.jit.load(str(path), map_location="cpu"), threads, device)
