"""Run a comparison study (a named set of runs) concurrently on Ray.

Thin wrapper: the command lives in `autotask.commands.compare` (also `autotask compare ...`).
"""

import sys

from autotask.commands.compare import main

if __name__ == "__main__":
    sys.exit(main())
