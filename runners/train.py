"""Train one model (AutoTask, the multi-task DNN baseline or the LightGBM peer) on Ray Train.

Thin wrapper: the command lives in `autotask.commands.train` (also `autotask train ...`).
"""

import sys

from autotask.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
