"""Run by test_fault_tolerance.py in its own process: Ray nodes on this machine (ray.cluster_utils.Cluster), a
training run or a small search spread over them, and a node hosting a Train worker killed once checkpoints exist.
Prints a JSON summary as its last line.

  python fault_run.py train DATA OUT      # head + 3 worker nodes, one 2-worker training run
  python fault_run.py search DATA OUT     # head + 2 worker nodes, two trials at once; a fresh node joins after the kill
"""

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
from autotask.tuning.search import SearchConfig
from autotask.tuning.study import run_search

REPO = Path(__file__).resolve().parents[2]


def nodes_with_train_workers() -> set[str]:
    """Node ids hosting a live Train worker, read from the GCS actor table (no dashboard needed)."""
    actors = ray._private.state.actors().values()
    return {a["Address"]["NodeID"] for a in actors if a["ActorClassName"] == "RayTrainWorker" and a["State"] == "ALIVE"}


def kill_a_worker_node_after_checkpoints(cluster: Cluster, storage: Path, killed: dict, checkpoints: int,
                                         replace: bool = False) -> None:
    """Once `checkpoints` exist under `storage`, remove (ungracefully) a worker node hosting a Train worker; with
    `replace`, a fresh node joins afterwards (as an autoscaler would bring one up)."""
    deadline = time.time() + 240
    while time.time() < deadline:
        if len(list(storage.rglob("checkpoint_*"))) >= checkpoints:
            busy = nodes_with_train_workers()
            print(f"checkpoints seen; train workers on {sorted(busy)}", file=sys.stderr)
            for node in list(cluster.worker_nodes):
                if node.node_id in busy:
                    cluster.remove_node(node, allow_graceful=False)
                    killed["node"] = node.node_id
                    if replace:
                        cluster.add_node(num_cpus=1)
                    return
        time.sleep(0.2)


def start_cluster(worker_nodes: int) -> Cluster:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(worker_nodes):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster


def stop(cluster: Cluster) -> None:
    ray.shutdown()
    cluster.shutdown()


def watch(cluster: Cluster, storage: Path, checkpoints: int, replace: bool = False) -> dict:
    killed = {"node": None}
    threading.Thread(target=kill_a_worker_node_after_checkpoints, args=(cluster, storage, killed, checkpoints, replace),
                     daemon=True).start()
    return killed


def train(data: str, out: str) -> dict:
    # Four 1-CPU nodes (head + 3 workers): the two Train workers take 1 CPU each; after a worker node dies, two
    # CPUs host the restarted workers and one is left for Ray Data to rebuild the blocks the dead node held.
    cluster = start_cluster(worker_nodes=3)
    run = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=2, cpus_per_worker=1, epochs_pretrain=1, epochs_finetune=5, patience=10, batch_size=64,
        max_failures=3))
    killed = watch(cluster, Path(out) / "ray", checkpoints=2)  # the first one is surely registered by then
    started = time.time()
    train_run(run, out)
    history = json.loads((Path(out) / "model" / "history.json").read_text())
    nodes = {worker["node"] for epoch in history["history"] for worker in epoch["shard_rows"]}
    stop(cluster)
    return {"killed": killed["node"], "epochs": [h["epoch"] for h in history["history"]],
            "restarts": history["restarts"], "nodes": sorted(nodes), "seconds": time.time() - started}


def search(data: str, out: str) -> dict:
    # Three 1-CPU nodes: the two trials' own processes (0.25 CPU each) and Ray Data share the head, and each
    # trial's 1-CPU Train worker needs a worker node of its own, so the trials run on different nodes.
    cluster = start_cluster(worker_nodes=2)
    base = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=1, cpus_per_worker=1, epochs_pretrain=1, epochs_finetune=3, batch_size=64, max_failures=3))
    config = SearchConfig(trials=2, concurrent=2, scheduler="none", seed=0)
    killed = watch(cluster, Path(out) / "ray" / "trials", checkpoints=2, replace=True)
    started = time.time()
    frame = run_search(base, REPO / "search_spaces" / "autotask.py", config, out)
    trials = {}
    for result in (Path(out) / "ray" / "search").glob("run_trial_*/result.json"):
        reports = [json.loads(line) for line in result.read_text().splitlines()]
        trials[result.parent.name] = {"epochs": [r["epoch"] for r in reports],
                                      "nodes": sorted({w["node"] for r in reports for w in r["shard_rows"]})}
    restarts = [json.loads(p.read_text())["restarts"] for p in sorted((Path(out) / "ray" / "trials").glob(
        "*/checkpoint_*/state.json"))]
    stop(cluster)
    return {"killed": killed["node"], "status": frame["status"].tolist(), "trials": trials,
            "max_restarts": max(restarts, default=0), "seconds": time.time() - started}


if __name__ == "__main__":
    mode, data, out = sys.argv[1:4]
    summary = {"train": train, "search": search}[mode](data, out)
    print(json.dumps(summary))
