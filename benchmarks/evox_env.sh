#!/usr/bin/env bash
# EvoX 0.9 (the JAX EvoX) needs jax 0.4, evo needs jax >= 0.8, so it gets its own environment.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-evox && .venv-evox/bin/pip install "evox==0.9.0" "jax[cpu]==0.4.38"
