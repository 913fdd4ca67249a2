"""The runners' code: one module per command (`autotask COMMAND`, or `python runners/COMMAND.py`)."""
