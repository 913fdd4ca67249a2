"""A rich live table of trials while a search runs."""

from __future__ import annotations

from ray.tune import Callback
from rich.live import Live
from rich.table import Table


class LiveTrialTable(Callback):
    """Shows every trial's status, parameters and best metric so far."""

    def __init__(self, metric: str, params: list[str]):
        self.metric = metric
        self.params = params
        self.rows: dict[str, dict] = {}
        self.live = Live(self._table(), refresh_per_second=2, transient=False)

    def setup(self, **info):
        self.live.start()

    def on_trial_start(self, iteration, trials, trial, **info):
        self.rows[trial.trial_id] = {"status": "RUNNING", "config": trial.config, "best": float("nan"), "epochs": 0}
        self.live.update(self._table())

    def on_trial_result(self, iteration, trials, trial, result, **info):
        row = self.rows.setdefault(trial.trial_id, {"config": trial.config, "best": float("nan")})
        value = result.get(self.metric)
        if value is not None and not value <= row["best"]:
            row["best"] = value
        row.update(status="RUNNING", epochs=result.get("training_iteration", 0))
        self.live.update(self._table())

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.rows.setdefault(trial.trial_id, {"config": trial.config, "best": float("nan"), "epochs": 0})
        self.rows[trial.trial_id]["status"] = "DONE"
        self.live.update(self._table())

    def on_trial_error(self, iteration, trials, trial, **info):
        self.rows.setdefault(trial.trial_id, {"config": trial.config, "best": float("nan"), "epochs": 0})
        self.rows[trial.trial_id]["status"] = "ERROR"
        self.live.update(self._table())

    def on_experiment_end(self, trials, **info):
        self.live.stop()

    def _table(self) -> Table:
        table = Table(title="trials")
        for column in ["trial", "status", "epochs", *self.params, self.metric]:
            table.add_column(column, justify="right")
        for trial_id, row in self.rows.items():
            config = row.get("config", {})
            values = [_fmt(config.get(p)) for p in self.params]
            table.add_row(trial_id, row.get("status", ""), str(row.get("epochs", 0)), *values, _fmt(row["best"]))
        return table


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
