"""What every runner shares: a console sized for terminals and for logs, and the one way bad input is reported."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from autotask import interrupts
from autotask.preflight import InputError

INPUT_ERROR = 2  # exit status for bad input: nothing was trained or written
INTERRUPTED = 130  # Ctrl-C, as shells report it
RAY_INTERRUPT_FRAMES = ("sigint_handler", "raise_sys_exit_with_custom_error_message")
PATH_ERRORS = (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


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


def runner_main(console: Console):
    """Decorate a runner's `main(argv)`: bad input (any ValueError: ContractError, InputError, ...; or an OSError
    naming a path) prints one clear message and returns INPUT_ERROR; Ctrl-C returns INTERRUPTED, also when its
    KeyboardInterrupt was swallowed on the way (autotask/interrupts.py). Anything else is a bug and keeps its
    traceback."""

    def decorate(main):
        @functools.wraps(main)
        def guarded(argv: list[str] | None = None) -> int:
            with interrupts.hearing():
                code = _guarded(main, argv, console)
                interrupts.remember_only()  # a Ctrl-C from here on cannot turn the exit status into a traceback
                return _interrupted(console) if interrupts.heard() and code != INTERRUPTED else code

        return guarded

    return decorate


def _guarded(main, argv: list[str] | None, console: Console) -> int:
    try:
        return main(argv)
    except ValueError as exc:
        return report_input_error(console, exc)
    except OSError as exc:
        if exc.filename is None and not isinstance(exc, PATH_ERRORS):
            raise
        text = f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
        return report_input_error(console, InputError(text))
    except KeyboardInterrupt:
        return _interrupted(console)
    except SystemExit as exc:
        if not _from_sigint_handler(exc):  # argparse's usage errors and --help
            raise
        return _interrupted(console)


def _interrupted(console: Console) -> int:
    console.print("[red]interrupted[/red]: finished work is kept; re-run the same command to resume")
    return INTERRUPTED


def _from_sigint_handler(exc: SystemExit) -> bool:
    """Ctrl-C inside Ray: TorchTrainer.fit's own handler aborts the run and calls sys.exit, or the interrupted
    `ray.get` raises SystemExit from Ray's core worker; either way the innermost frame is Ray's, not argparse's."""
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and trace.tb_frame.f_code.co_name.rsplit(".", 1)[-1] in RAY_INTERRUPT_FRAMES


def read_json_object(path: str | Path, flag: str) -> dict:
    """A JSON object from a user's file, or an InputError naming the flag, the file and the position."""
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{flag} {path}: no such file") from exc
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"{flag} {path}: not a JSON text file ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{flag} {path}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{flag} {path}: must hold a JSON object {{...}}, not {type(raw).__name__}")
    return raw
