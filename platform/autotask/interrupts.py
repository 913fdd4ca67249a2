"""Ctrl-C, heard once for the whole command.

A command's `main` (cli.runner_main) runs under `hearing()`: SIGINT both raises KeyboardInterrupt, as Python's own
handler does, and is remembered. A KeyboardInterrupt can be lost on its way up: Python raises it wherever the main
thread happens to be, and inside a `__del__` method or a weakref callback (Ray's actor handles have one) it is
printed as "Exception ignored" and dropped; a library's own handler (Ray Tune's, Ray Train's) may swallow it too.
What was heard is not lost: the command ends with 130 however its `main` returned, and long steps ask
`raise_if_heard()` before they start.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_heard = threading.Event()


def _hear(signum, frame):
    _heard.set()
    raise KeyboardInterrupt


def _remember(signum, frame):
    _heard.set()


def remember_only() -> None:
    """Within `hearing()`, from now on SIGINT is only remembered (a command's last steps: its exit status)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _remember)


def heard() -> bool:
    """Whether Ctrl-C came since the command started."""
    return _heard.is_set()


def forget() -> None:
    """Ctrl-C was an expected stop (a service's), not an interruption."""
    _heard.clear()


def raise_if_heard() -> None:
    """KeyboardInterrupt when Ctrl-C came earlier and was swallowed on its way up."""
    if _heard.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def hearing():
    """Within the block, SIGINT raises KeyboardInterrupt and is remembered (`heard()`, forgotten when a command that
    is not run inside another starts); the previous handler afterwards. Outside the main thread (where no handler
    can be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _hear)
    if previous not in (_hear, _remember):  # not a command run inside another (the quickstart's steps)
        _heard.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
