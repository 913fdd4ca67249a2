"""The two kinds of bad input, at the bottom of the layers so every package can raise them: both are ValueErrors,
which `autotask.cli.runner_main` reports as one clear message with exit status 2."""

from __future__ import annotations


class InputError(ValueError):
    """A flag or file the user gave is wrong; the message names it (also importable from autotask.preflight)."""


class ContractError(ValueError):
    """A dataset breaks the contract; the message names the file, the column and offending rows (also importable
    from autotask.data.contract)."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))
