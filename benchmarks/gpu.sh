#!/usr/bin/env bash
# One command on a GPU machine: grid, throughput and memory benchmarks at 224 px,
# float32 and mixed float16, into benchmarks/results/gpu.json (see benchmarks/gpu.py).
# Pass --quick for a CPU smoke test of the same chain.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python benchmarks/gpu.py "$@"
