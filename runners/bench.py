"""Benchmark training throughput (bare PyTorch, Ray Data, Ray Train 1 and 2 workers) and serving latency and

Thin wrapper: the command lives in `autotask.commands.bench` (also `autotask bench ...`).
"""

import sys

from autotask.commands.bench import main

if __name__ == "__main__":
    sys.exit(main())
