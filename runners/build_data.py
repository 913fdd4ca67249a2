"""Build and check contract datasets.

Thin wrapper: the command lives in `autotask.commands.build_data` (also `autotask build-data ...`).
"""

import sys

from autotask.commands.build_data import main

if __name__ == "__main__":
    sys.exit(main())
