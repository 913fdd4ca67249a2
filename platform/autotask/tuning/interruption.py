"""Ctrl-C during a search: Tune's own SIGINT handler ends the search quietly, as if it had finished; a study must
end instead (exit 130, resumable)."""

from __future__ import annotations

import os
import signal
import threading

from ray import tune

from autotask import interrupts

NO_TUNE_HANDLER = "TUNE_DISABLE_SIGINT_HANDLER"  # set to 1, Tune leaves Ctrl-C to Python


def fit_or_interrupt(tuner: tune.Tuner):
    """`tuner.fit()`, raising KeyboardInterrupt when Ctrl-C came during it. Tune's own SIGINT handler saves the
    search's state and lets fit() return as if the search had finished (the rest of a study would then run on); it
    puts the previous handler back when it fires and stays installed when it does not, so the handler in place
    afterwards tells which happened. Either way the previous handler is in place again afterwards, also when fit()
    raises.

    The look and the restore are one `signal.signal` call: Python runs a signal's handler between bytecodes, so
    with a separate look (`getsignal`) and restore a Ctrl-C landing between them ran Tune's handler after the look,
    which then said "not fired", and the interrupt was lost (the study ran on and exited 0)."""
    interrupts.raise_if_heard()  # a Ctrl-C swallowed on its way up (autotask/interrupts.py) starts no search
    if threading.current_thread() is not threading.main_thread() or os.environ.get(NO_TUNE_HANDLER) == "1":
        return _finished_or_interrupt(tuner.fit())  # Tune installs no handler: Ctrl-C is Python's KeyboardInterrupt
    previous = signal.getsignal(signal.SIGINT)
    try:
        grid = tuner.fit()
    finally:
        left = signal.signal(signal.SIGINT, previous)  # one call: Tune's handler cannot fire between look and restore
    if left is previous:  # Tune's handler fired and put `previous` back
        raise KeyboardInterrupt
    return _finished_or_interrupt(grid)


def _finished_or_interrupt(grid):
    """The grid of a search whose every trial ended; KeyboardInterrupt when some were stopped unfinished."""
    if grid.num_terminated + grid.num_errors < len(grid):
        raise KeyboardInterrupt
    return grid
