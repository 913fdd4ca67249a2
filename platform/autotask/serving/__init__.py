"""Serving (no Ray): a trained run's model wrapped for block size 1, exported to TorchScript or ONNX, and run."""
