"""The `autotask` command: one entry point for every runner, with the runners' own flags.

  autotask build-data simulate --out data/sim
  autotask train --data data/sim --model autotask --out runs/autotask
  autotask COMMAND --help

`python runners/NAME.py ...` runs the same code (each runner file is a thin wrapper of autotask.commands.NAME).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from pathlib import Path

COMMANDS = {  # command -> module under autotask.commands
    "quickstart": "quickstart",
    "build-data": "build_data",
    "train": "train",
    "tune": "tune",
    "compare": "compare",
    "report": "report",
    "export": "export",
    "serve": "serve",
    "bench": "bench",
}


def summary(command: str) -> str:
    """The first sentence of the command module's docstring, read without importing it (torch and Ray load slowly)."""
    source = Path(importlib.util.find_spec(f"autotask.commands.{COMMANDS[command]}").origin).read_text()
    paragraph = (ast.get_docstring(ast.parse(source)) or "").split("\n\n")[0]
    sentence = re.split(r"(?<=[.:;])\s", " ".join(paragraph.split()), maxsplit=1)[0].rstrip(":.;")
    return sentence if len(sentence) <= 100 else sentence[:97].rsplit(" ", 1)[0] + " ..."


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {summary(name)}" for name in COMMANDS]
    head = "usage: autotask COMMAND [ARGS...]   (autotask COMMAND --help for its flags)"
    return f"{head}\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    command, *rest = argv
    if command not in COMMANDS:
        print(f"autotask: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"autotask.commands.{COMMANDS[command]}")
    sys.argv = [f"autotask {command}", *rest]  # argparse names the command in its usage and error lines
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
