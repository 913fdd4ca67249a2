"""Search AutoTask's (or the DNN's) hyperparameters with Ray Tune + Optuna, under d·e1 = e2.

Thin wrapper: the command lives in `autotask.commands.tune` (also `autotask tune ...`).
"""

import sys

from autotask.commands.tune import main

if __name__ == "__main__":
    sys.exit(main())
