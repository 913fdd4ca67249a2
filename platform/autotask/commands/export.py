"""Write the serving artefact of a trained run: (z-scored features [b, d] float32, task ids [b] int64) ->
probabilities [b], each row scored on its own (block size 1).

  python runners/export.py --run RUN_DIR --out FILE.onnx [--format onnx|torchscript]
  python runners/export.py --run RUN_DIR --out clinic.onnx --profile-from DATA --scenario Clinic [--split test]

`--profile-from` serves one new (unseen) scenario with its profile: the seen-id weights estimated from that
scenario's rows of DATA (features only, no labels), baked into the artefact for rows with task id 0.

ONNX by default (exported with torch.export). A `.pt` file or `--format torchscript` still writes TorchScript, which
is deprecated since PyTorch 2.11 (a one-line note says so). Load either with
`autotask.serving.runtime.load_predictor(FILE)`.
"""

from __future__ import annotations

import argparse
import sys

from autotask.cli import runner_console, runner_main
from autotask.preflight import check_output_file
from autotask.serving.export import FORMATS, TORCHSCRIPT_DEPRECATED, export_format, export_run
from autotask.serving.profiles import scenario_features

console = runner_console(stderr=True)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory written by runners/train.py (holds model/)")
    p.add_argument("--out", required=True, help="artefact file to write")
    p.add_argument("--format", choices=FORMATS, help="default: onnx (torchscript for a .pt --out; deprecated)")
    p.add_argument("--profile-from", help="dataset holding rows of the new scenario to profile (with --scenario)")
    p.add_argument("--scenario", help="the new (unseen) scenario whose profile the artefact serves")
    p.add_argument("--split", help="split of --profile-from to read the scenario's rows from (default: its unlabelled "
                   "onboarding sample, split 'onboard', when the dataset has one; else 'test')")
    args = p.parse_args(argv)
    check_output_file(args.out)
    if bool(args.profile_from) != bool(args.scenario):
        raise ValueError("--profile-from and --scenario go together")
    rows = scenario_features(args.profile_from, args.run, args.scenario, args.split) if args.scenario else None
    fmt = args.format or export_format(args.out)
    path = export_run(args.run, args.out, fmt, rows)
    if fmt == "torchscript":
        console.print(f"[yellow]note:[/yellow] {TORCHSCRIPT_DEPRECATED}", highlight=False, soft_wrap=True)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
