"""Ctrl-C at any time ends a command with 130: Tune's handler around a search, and a KeyboardInterrupt swallowed on
its way up (tests/integration/test_tune.py interrupts a real study)."""

from __future__ import annotations

import contextlib
import signal

import pytest

from autotask import interrupts
from autotask.cli import INTERRUPTED, runner_console, runner_main
from autotask.tuning.interruption import fit_or_interrupt


class _Grid:
    def __init__(self, finished: int, trials: int = 2):
        self.num_terminated, self.num_errors, self.trials = finished, 0, trials

    def __len__(self):
        return self.trials


class _Tuner:
    """Tune's contract: fit() installs a SIGINT handler that, when it fires, stops the search and puts the previous
    handler back; when nothing fires it stays installed after fit() returns."""

    def __init__(self, ctrl_c: bool = False, finished: int = 2, error: Exception | None = None):
        self.ctrl_c, self.finished, self.error = ctrl_c, finished, error

    def fit(self):
        original = signal.getsignal(signal.SIGINT)

        def tune_handler(signum, frame):
            signal.signal(signal.SIGINT, original)

        signal.signal(signal.SIGINT, tune_handler)
        if self.ctrl_c:  # after the last trial finished: the search looks complete
            signal.raise_signal(signal.SIGINT)
        if self.error:
            raise self.error
        return _Grid(self.finished)


def test_a_finished_search_returns_its_grid_and_puts_the_handler_back():
    before = signal.getsignal(signal.SIGINT)
    assert len(fit_or_interrupt(_Tuner())) == 2
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_after_the_last_trial_finished_still_interrupts():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        fit_or_interrupt(_Tuner(ctrl_c=True))
    assert signal.getsignal(signal.SIGINT) is before


def test_unfinished_trials_interrupt_and_a_failed_fit_puts_the_handler_back():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        fit_or_interrupt(_Tuner(finished=1))
    with pytest.raises(RuntimeError):
        fit_or_interrupt(_Tuner(error=RuntimeError("trial failed")))
    assert signal.getsignal(signal.SIGINT) is before  # Tune's handler would otherwise swallow every later Ctrl-C


def test_a_swallowed_keyboard_interrupt_still_ends_the_command_with_130():
    @runner_main(runner_console())
    def main(argv=None):
        with contextlib.suppress(KeyboardInterrupt):  # as in a __del__ method: "Exception ignored", dropped
            signal.raise_signal(signal.SIGINT)
        return 0

    before = signal.getsignal(signal.SIGINT)
    assert main([]) == INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is before


def test_a_later_search_does_not_start_after_a_swallowed_ctrl_c():
    with interrupts.hearing():
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            fit_or_interrupt(_Tuner())


def test_a_command_that_ends_normally_is_not_interrupted():
    @runner_main(runner_console())
    def main(argv=None):
        return 0

    assert main([]) == 0 and not interrupts.heard()
