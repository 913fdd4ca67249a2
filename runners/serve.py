"""Serve trained runs online on Ray Serve: an HTTP JSON API for scoring, with new scenarios onboarded live.

Thin wrapper: the command lives in `autotask.commands.serve` (also `autotask serve ...`).
"""

import sys

from autotask.commands.serve import main

if __name__ == "__main__":
    sys.exit(main())
