"""Write the serving artefact of a trained run: (z-scored features [b, d] float32, task ids [b] int64) ->

Thin wrapper: the command lives in `autotask.commands.export` (also `autotask export ...`).
"""

import sys

from autotask.commands.export import main

if __name__ == "__main__":
    sys.exit(main())
