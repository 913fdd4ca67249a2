"""What every runner shares: a console sized for terminals and for logs, and the one way bad input is reported."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

INPUT_ERROR = 2  # exit status for bad input: nothing was trained or written


def runner_console(log_width: int = 140, stderr: bool = False) -> Console:
    """The terminal's width on a terminal; `log_width` columns when output goes to a file or a pipe."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(width=None if stream.isatty() else log_width, stderr=stderr)


def report_input_error(console: Console, exc: Exception) -> int:
    """Print every message of a bad-input error (one line, or one bullet per message) and return INPUT_ERROR."""
    messages = getattr(exc, "messages", None) or [str(exc)]
    if len(messages) == 1:
        console.print(f"[red]error:[/red] {escape(messages[0])}", highlight=False, soft_wrap=True)
    else:
        console.print("[red]error:[/red]", highlight=False)
        for message in messages:
            console.print(f"  - {escape(message)}", highlight=False, soft_wrap=True)
    return INPUT_ERROR
