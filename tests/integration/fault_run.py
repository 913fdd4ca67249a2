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


def nodes_with_train_workers() -> set[str]:
    """Node ids hosting a live Train worker, read from the GCS actor table (no dashboard needed)."""
    actors = ray._private.state.actors().values()
    return {a["Address"]["NodeID"] for a in actors if a["ActorClassName"] == "RayTrainWorker" and a["State"] == "ALIVE"}


def kill_a_worker_node_after_checkpoints(cluster: Cluster, storage: Path, killed: dict) -> None:
    """Once checkpoints exist, remove (ungracefully) a node that hosts a Train worker."""
    deadline = time.time() + 240
    while time.time() < deadline:
        if len(list(storage.rglob("checkpoint_*"))) >= 2:  # the first one is surely registered by then
            busy = nodes_with_train_workers()
            print(f"checkpoint seen; train workers on {sorted(busy)}", file=sys.stderr)
            for node in list(cluster.worker_nodes):
                if node.node_id in busy:
                    cluster.remove_node(node, allow_graceful=False)
                    killed["node"] = node.node_id
                    return
        time.sleep(0.2)


def main(data: str, run_dir: str) -> None:
    # Four 1-CPU nodes (head + 3 workers): the two Train workers take 1 CPU each; after a worker node dies, two
    # CPUs host the restarted workers and one is left for Ray Data to rebuild the blocks the dead node held.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(3):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    run = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=2, cpus_per_worker=1, epochs_pretrain=1, epochs_finetune=5, patience=10, batch_size=64,
        max_failures=3))
    killed = {"node": None}
    watcher = threading.Thread(
        target=kill_a_worker_node_after_checkpoints, args=(cluster, Path(run_dir) / "ray", killed), daemon=True
    )
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
