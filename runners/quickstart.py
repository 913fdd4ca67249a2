"""The main job on the built-in default data: simulate, validate, train AutoTask, the DNN baseline and

Thin wrapper: the command lives in `autotask.commands.quickstart` (also `autotask quickstart ...`).
"""

import sys

from autotask.commands.quickstart import main

if __name__ == "__main__":
    sys.exit(main())
