"""Per-scenario ROC/PR AUC tables of finished runs against a baseline, with paired bootstrap intervals.

Thin wrapper: the command lives in `autotask.commands.report` (also `autotask report ...`).
"""

import sys

from autotask.commands.report import main

if __name__ == "__main__":
    sys.exit(main())
