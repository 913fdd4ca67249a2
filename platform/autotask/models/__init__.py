"""Pure-PyTorch models (no Ray): AutoTask, the multi-task DNN baseline, calibration and the LightGBM peer."""

from autotask.models.autotask import AutoTask, AutoTaskConfig
from autotask.models.dnn import MultiTaskDNN, MultiTaskDNNConfig
from autotask.models.interface import TaskModel, binary_loss, check_matches_data

__all__ = ["AutoTask", "AutoTaskConfig", "MultiTaskDNN", "MultiTaskDNNConfig", "TaskModel", "binary_loss",
           "check_matches_data"]
