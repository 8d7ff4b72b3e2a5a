#!/usr/bin/env bash
# One short script for a lent GPU machine (device tool): installs nothing, uses the image's python3 (CUDA JAX,
# scipy, pytest, hypothesis, optax), runs the solver tests on the GPU, then the GPU benchmark; one table.
#     bash benchmarks/gpu_check.sh [SIZES]        # SIZES default 1e6,1e7 (nodes a side, 10 edges per node)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"
echo "== solver tests on the GPU"
timeout 200 "$PY" -m pytest -x -p no:cacheprovider -o addopts="" tests/test_krylov.py tests/test_exact.py \
  2>&1 | tail -n 5
echo "== benchmark"
timeout 330 "$PY" benchmarks/gpu_check.py --sizes "${1:-1e6,1e7}" --k 64 --dtypes float32,float64
