"""Throughput and latency benchmarks behind `runners/bench.py`: training paths, serving forms, machine facts."""
