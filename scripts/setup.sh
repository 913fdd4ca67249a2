#!/usr/bin/env bash
# Create .venv/ at the repository root and install the project, every package at its version in constraints.txt.
# torch==2.13.0 is installed first so pip takes the CPU build (a different pin pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,docs]"  # docs: tests/unit/test_docs_site.py builds the site
