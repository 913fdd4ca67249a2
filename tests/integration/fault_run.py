"""Run by test_fault_tolerance.py in its own process: Ray nodes on this machine (ray.cluster_utils.Cluster), a
training run or a small search spread over them, and a node hosting a Train worker killed once checkpoints exist.
Prints a JSON summary as its last line.

  python fault_run.py train DATA OUT      # head + 3 worker nodes, one 2-worker training run
  python fault_run.py search DATA OUT     # 2-CPU head + 2 worker nodes, two trials at once
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from autotask.config import RunConfig, TrainingConfig
from autotask.runtime.run import train_run
from autotask.tuning.search import SearchConfig
from autotask.tuning.study import run_search

REPO = Path(__file__).resolve().parents[2]


def nodes_of_a_checkpointed_run(storage: Path, checkpoints: int) -> set[str]:
    """Nodes whose Train workers ran the last epoch of runs (or trials) that have `checkpoints` checkpoints saved.

    The nodes come from the newest checkpoint's own history, so the run killed is one whose earlier checkpoint is
    surely registered with Ray Train (a just-written one may not be yet, and a restart would ignore it).
    """
    runs: dict[Path, list[Path]] = {}
    for path in storage.rglob("checkpoint_*"):
        if (path / "state.json").exists():
            runs.setdefault(path.parent, []).append(path)
    nodes = set()
    for saved in runs.values():
        if len(saved) >= checkpoints:
            history = json.loads(max(saved).joinpath("state.json").read_text())["history"]
            nodes |= {worker["node"] for worker in history[-1]["shard_rows"]}
    return nodes


def kill_a_worker_node_after_checkpoints(cluster: Cluster, storage: Path, killed: dict, checkpoints: int = 2) -> None:
    """Once a run has `checkpoints` checkpoints, remove (ungracefully) a worker node hosting one of its workers."""
    deadline = time.time() + 240
    while time.time() < deadline:
        busy = nodes_of_a_checkpointed_run(storage, checkpoints)
        for node in list(cluster.worker_nodes):
            if node.node_id in busy:
                print(f"killing node {node.node_id} (train workers on {sorted(busy)})", file=sys.stderr)
                cluster.remove_node(node, allow_graceful=False)
                killed["node"] = node.node_id
                return
        time.sleep(0.2)


def start_cluster(worker_nodes: int, head_cpus: int = 1) -> Cluster:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus})
    for _ in range(worker_nodes):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster


def stop(cluster: Cluster) -> None:
    ray.shutdown()
    cluster.shutdown()


def watch(cluster: Cluster, storage: Path) -> dict:
    killed = {"node": None}
    threading.Thread(target=kill_a_worker_node_after_checkpoints, args=(cluster, storage, killed), daemon=True).start()
    return killed


def train(data: str, out: str) -> dict:
    # Four 1-CPU nodes (head + 3 workers): the two Train workers take 1 CPU each; after a worker node dies, two
    # CPUs host the restarted workers and one is left for Ray Data to rebuild the blocks the dead node held.
    cluster = start_cluster(worker_nodes=3)
    run = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=2, cpus_per_worker=1, epochs_pretrain=1, epochs_finetune=3, patience=10, batch_size=64,
        max_failures=3))
    killed = watch(cluster, Path(out) / "ray")
    started = time.time()
    train_run(run, out)
    history = json.loads((Path(out) / "model" / "history.json").read_text())
    nodes = {worker["node"] for epoch in history["history"] for worker in epoch["shard_rows"]}
    stop(cluster)
    return {"killed": killed["node"], "epochs": [h["epoch"] for h in history["history"]],
            "restarts": history["restarts"], "nodes": sorted(nodes), "seconds": time.time() - started}


def search(data: str, out: str) -> dict:
    # A 2-CPU head and two 1-CPU worker nodes: the trials' own processes (0.25 CPU each) sit on the head, which
    # has room for one 1-CPU Train worker besides, so the two trials' workers run on at least two nodes. After a
    # worker node dies, the other one hosts the restarted worker.
    cluster = start_cluster(worker_nodes=2, head_cpus=2)
    base = RunConfig(data=data, model="autotask", seed=0, training=TrainingConfig(
        workers=1, cpus_per_worker=1, epochs_pretrain=1, epochs_finetune=3, batch_size=64, max_failures=3))
    # Trials with a Train worker group each (a 1-worker trial would train in its own process): this tests Train's
    # recovery inside a trial.
    config = SearchConfig(trials=2, concurrent=2, scheduler="none", seed=0, in_process=False)
    killed = watch(cluster, Path(out) / "ray" / "trials")
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
