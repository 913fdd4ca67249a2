#!/usr/bin/env bash
# Create .venv/ at the repository root and install the project with its pinned dependencies.
# torch==2.13.0 is pinned first so pip takes the CPU build (a different pin pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
