"""Run by test_fault_tolerance.py in its own process: a head and two worker nodes on this machine, a
2-worker training run, and a worker node killed once the first checkpoint exists. Prints a JSON summary."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from autotask.training.config import RunConfig, TrainingConfig
from autotask.training.run import train_run


def kill_a_worker_node_after_first_checkpoint(cluster: Cluster, storage: Path, killed: dict) -> None:
    deadline = time.time() + 240
    while time.time() < deadline:
        if list(storage.rglob("checkpoint_*")):
            for node in list(cluster.worker_nodes):
                cluster.remove_node(node, allow_graceful=False)
                killed["node"] = True
                return
        time.sleep(0.2)


def main(data: str, run_dir: str) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    first = cluster.add_node(num_cpus=1)
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    run = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=2, epochs_pretrain=1, epochs_finetune=5, patience=10, batch_size=64, max_failures=3))
    killed = {"node": False}
    watcher = threading.Thread(
        target=kill_a_worker_node_after_first_checkpoint, args=(cluster, Path(run_dir) / "ray", killed), daemon=True
    )
    del first
    watcher.start()
    started = time.time()
    train_run(run, run_dir)
    history = json.loads((Path(run_dir) / "model" / "history.json").read_text())
    print(json.dumps({"killed": killed["node"], "epochs": [h["epoch"] for h in history["history"]],
                      "restarts": history["restarts"], "seconds": time.time() - started}))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
