"""Write the serving artefact of a trained run: (z-scored features [b, d] float32, task ids [b] int64) ->
probabilities [b], each row scored on its own (block size 1).

  python runners/export.py --run RUN_DIR --out FILE [--format torchscript|onnx]

The format defaults to the file's suffix (.onnx: ONNX, else TorchScript). Load it with
`autotask.serving.runtime.load_predictor(FILE)`.
"""

from __future__ import annotations

import argparse
import sys

from autotask.cli import report_input_error, runner_console
from autotask.serving.export import FORMATS, artefact_format, export_run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory written by runners/train.py (holds model/)")
    p.add_argument("--out", required=True, help="artefact file to write")
    p.add_argument("--format", choices=FORMATS, help="default: from the suffix of --out")
    args = p.parse_args(argv)
    try:
        path = export_run(args.run, args.out, args.format or artefact_format(args.out))
    except (FileNotFoundError, ValueError) as exc:
        return report_input_error(runner_console(stderr=True), exc)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
