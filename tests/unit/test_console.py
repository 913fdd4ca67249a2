"""The console of a long job: a progress display (live on a terminal, plain lines into a file or pipe), per-epoch
numbers from Ray Train's controller, and Ray's own logs kept off the console unless --verbose."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rich.console import Console

from autotask.progress import RunProgress, describe_epoch, epoch_summary

METRICS = {"epoch": 11, "stage": "finetune", "valid_roc_auc": 0.8731, "best_valid_roc_auc": 0.8744,
           "shard_rows": [{"rows": 6000, "train_seconds": 0.5}, {"rows": 6000, "train_seconds": 0.6}]}


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=150, color_system=None), out


def _two_runs(progress: RunProgress) -> None:
    progress.run_started("AutoTask")
    progress.training_started("AutoTask", 40)
    progress.epoch("AutoTask", epoch_summary(METRICS))
    progress.run_finished("AutoTask", "mean seen test ROC AUC 88.7")
    progress.run_started("LightGBM")
    progress.run_finished("LightGBM")


def test_an_epoch_reads_stage_epoch_auc_and_rows_per_second_of_all_workers():
    assert describe_epoch(epoch_summary(METRICS), 40) == \
        "finetune epoch 12/40 · valid AUC 0.8731 (best 0.8744) · 20,000 rows/s"


def test_into_a_file_progress_is_one_plain_line_per_event():
    console, out = _console(terminal=False)
    with RunProgress(console, total=2) as progress:
        _two_runs(progress)
    lines = out.getvalue().splitlines()
    assert lines[0] == "run 1/2 AutoTask: started"
    assert lines[1].startswith("  AutoTask: finetune epoch 12/40 · valid AUC 0.8731 (best 0.8744) · 20,000 rows/s · 0:")
    assert lines[2].startswith("run 1/2 AutoTask: done in 0:0") and lines[2].endswith("mean seen test ROC AUC 88.7")
    assert lines[3:] == ["run 2/2 LightGBM: started", lines[4]] and lines[4].startswith("run 2/2 LightGBM: done in")


def test_on_a_terminal_progress_is_a_live_display_leaving_a_line_per_finished_run():
    console, out = _console(terminal=True)
    with RunProgress(console, total=2) as progress:
        progress.run_started("AutoTask")
        progress.training_started("AutoTask", 40)
        progress.epoch("AutoTask", epoch_summary(METRICS))
        progress._bar.refresh()
        shown = out.getvalue()
        assert "run 1/2 AutoTask" in shown and "12/40" in shown and "valid AUC 0.8731" in shown and "runs" in shown
        progress.run_finished("AutoTask")
        progress.run_started("LightGBM")
        progress.run_finished("LightGBM")
    shown = out.getvalue()
    assert "✓ run 1/2 AutoTask: done in 0:0" in shown and "✓ run 2/2 LightGBM: done in 0:0" in shown
    assert "\x1b[" in shown  # redrawn in place (cursor movement), not printed line after line


def test_epochs_reported_in_ray_train_workers_reach_the_driver_display(ray_session, tmp_path):
    import ray.train
    from ray.train.torch import TorchTrainer

    def loop(config):
        for epoch in range(2):
            ray.train.report({"epoch": epoch, "stage": "pretrain", "valid_roc_auc": 0.8 + epoch / 100,
                              "best_valid_roc_auc": 0.8 + epoch / 100,
                              "shard_rows": [{"rows": 1000, "train_seconds": 0.5}]})

    console, out = _console(terminal=False)
    with RunProgress(console) as progress:
        progress.run_started("toy")
        with progress.watch_training("toy", 2) as callback:
            run_config = ray.train.RunConfig(name="toy", storage_path=str(tmp_path), callbacks=[callback])
            TorchTrainer(loop, scaling_config=ray.train.ScalingConfig(num_workers=1), run_config=run_config).fit()
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("  toy: pretrain epoch 1/2 · valid AUC 0.8000 · 2,000 rows/s · 0:")
    assert lines[2].startswith("  toy: pretrain epoch 2/2 · valid AUC 0.8100 · 2,000 rows/s · 0:")


QUIET_SCRIPT = textwrap.dedent("""
    import logging, sys
    import numpy as np, ray
    from autotask.runtime.session import ensure_ray, quiet_console

    with quiet_console(verbose="--verbose" in sys.argv):
        ensure_ray(num_cpus=1)
        logging.getLogger("ray.data").info("a Ray Data INFO line")
        logging.getLogger("ray.train").warning("a Ray Train WARNING line")

        @ray.remote(num_cpus=0, max_restarts=1)
        class Holder:  # constructor arguments in the object store: Ray's core worker logs an ERROR-level notice
            def __init__(self, array):
                self.n = len(array)

            def size(self):
                return self.n

        print("size", ray.get(Holder.remote(np.zeros(1_000_000)).size.remote()), flush=True)
        print("logs", ray._private.worker._global_node.get_logs_dir_path(), flush=True)

        @ray.remote(num_cpus=0)
        def fail():
            raise ValueError("the cause of the failure")

        ray.get(fail.remote())
""")


def test_ray_logs_stay_in_the_session_folder_and_a_failure_still_prints_its_cause(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(QUIET_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "AUTOTASK_VERBOSE")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and "size 1000000" in done.stdout
    assert "ValueError: the cause of the failure" in done.stderr  # the failure, on the console
    console = done.stdout + done.stderr
    for quiet in ("INFO", "WARNING", "a Ray", "core_worker.cc", "Token authentication"):
        assert quiet not in console, quiet
    logs = next(line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("logs "))
    driver_log = Path(logs, "autotask-driver.log").read_text()
    assert "a Ray Train WARNING line" in driver_log and "Started a local Ray instance" in driver_log
    assert "core_worker.cc" in Path(logs, "autotask-driver.err").read_text()
    verbose = subprocess.run([sys.executable, str(script), "--verbose"], capture_output=True, text=True, timeout=120,
                             env=env)
    assert "a Ray Train WARNING line" in verbose.stderr and "core_worker.cc" in verbose.stderr
