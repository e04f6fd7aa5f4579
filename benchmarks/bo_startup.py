"""Start-up of Bayesian optimisation in a fresh process: evo's `BayesOpt` jitted by the
caller, with an empty persistent compilation cache (the first process) and with the cache
the first one wrote (a second process with the same shapes), `BayesOpt` called directly,
evo's host-side `Experiment`, against BoTorch's first candidate.

    python benchmarks/bo_startup.py                       # d = 2, 6, 10
    python benchmarks/bo_startup.py --cases 6:100 10:200  # d:capacity

Each measurement is a child process, timed from its start: `import` (evo.bo, or torch and
BoTorch), `first ask` (the first `ask` of a new `BayesOpt`: jitted by the caller, it
returns design points but compiles the whole ask, proposal included; called directly, it
compiles the design only and starts the proposal's compilation in the background), and
`first proposal` (an ask after the design was told, so the acquisition runs; BoTorch:
fitting a SingleTaskGP to the same number of points and optimising LogEI, its first
candidate). `Experiment` rows: its first suggestion (the design) and its first proposal,
with the design observed at once, and "wait": how long the first proposal takes when the
design's evaluation took 5 s (its program compiles in the background meanwhile;
BoTorch: the fit and LogEI's optimisation). Objective: the sphere in [0, 1]^d centred at
0.3, design of 10 points. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD_EVO = """
import time, json, sys
start = float(sys.argv[1])
import jax, jax.numpy as jnp
import evo.bo
t_import = time.perf_counter() - start
d, capacity = int(sys.argv[2]), int(sys.argv[3])
opt = evo.bo.BayesOpt(n_obj=1, lb=jnp.zeros(d), ub=jnp.ones(d), n_init=10, capacity=capacity)
ask, tell = opt.ask, opt.tell
if sys.argv[4] == "jit":
    ask, tell = jax.jit(ask), jax.jit(tell)
state = opt.init(jax.random.key(0))
X, state = ask(state)
jax.block_until_ready(X)
t_ask = time.perf_counter() - start
for _ in range(9):
    state = tell(state, jnp.sum((X - 0.3) ** 2, 1, keepdims=True))
    X, state = ask(state)
state = tell(state, jnp.sum((X - 0.3) ** 2, 1, keepdims=True))
X, state = ask(state)
jax.block_until_ready(X)
print(json.dumps({"import": t_import, "first ask": t_ask,
                  "first proposal": time.perf_counter() - start}))
"""

CHILD_EXPERIMENT = """
import time, json, sys
start = float(sys.argv[1])
import jax, numpy as np
import evo.bo
t_import = time.perf_counter() - start
d, capacity, evaluation = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
opt = evo.bo.BayesOpt(n_obj=1, lb=np.zeros(d), ub=np.ones(d), n_init=10, capacity=capacity)
experiment = evo.bo.Experiment(opt, jax.random.key(0))
ids, X = experiment.suggest(10)
t_suggest = time.perf_counter() - start
time.sleep(evaluation)
experiment.observe(ids, np.sum((X - 0.3) ** 2, 1, keepdims=True))
asked = time.perf_counter()
experiment.suggest(1)
print(json.dumps({"import": t_import, "first ask": t_suggest,
                  "first proposal": time.perf_counter() - start,
                  "wait": time.perf_counter() - asked}))
"""

CHILD_BOTORCH = """
import time, json, sys
start = float(sys.argv[1])
import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood
t_import = time.perf_counter() - start
d = int(sys.argv[2])
torch.manual_seed(0)
X = torch.rand(10, d, dtype=torch.float64)
Y = -((X - 0.3) ** 2).sum(-1, keepdim=True)
asked = time.perf_counter()
model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
bounds = torch.stack([torch.zeros(d), torch.ones(d)]).double()
candidate, _ = optimize_acqf(LogExpectedImprovement(model, best_f=Y.max()), bounds=bounds,
                             q=1, num_restarts=10, raw_samples=512)
print(json.dumps({"import": t_import, "first ask": float("nan"),
                  "first proposal": time.perf_counter() - start,
                  "wait": time.perf_counter() - asked}))
"""


def child(code: str, args: list[str], env: dict[str, str]) -> dict[str, float] | str:
    """The timings a child process prints, or why it failed."""
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                         text=True)
    if out.returncode:
        return out.stderr.strip().splitlines()[-1]
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(code: str, args: list[str], env: dict[str, str]) -> dict[str, float] | str:
    # A child's clock starts at its launch: time.perf_counter is system-wide on Linux.
    return child(code, [repr(time.perf_counter()), *args], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["2:50", "6:100", "10:200"],
                        help="d:capacity pairs")
    args = parser.parse_args()
    import platform

    print(f"# {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}\n")
    print("| d | capacity | run | import s | first ask s | first proposal s | wait s |")
    print("|---|---|---|---|---|---|---|")
    for case in args.cases:
        d, capacity = case.split(":")
        # Each group of runs shares a fresh cache: the second BayesOpt run reads the first's.
        groups = [
            [("evo, jitted by the caller, empty cache", CHILD_EVO, [d, capacity, "jit"]),
             ("evo, jitted by the caller, cache of the run before", CHILD_EVO,
              [d, capacity, "jit"])],
            [("evo, called directly, empty cache", CHILD_EVO, [d, capacity, "direct"])],
            [("evo Experiment, empty cache", CHILD_EXPERIMENT, [d, capacity, "0"])],
            [("evo Experiment, 5 s design evaluation, empty cache", CHILD_EXPERIMENT,
              [d, capacity, "5"])],
            [("BoTorch", CHILD_BOTORCH, [d])],
        ]
        for group in groups:
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "XDG_CACHE_HOME": cache, "OPENBLAS_NUM_THREADS": "1"}
                env.pop("EVO_COMPILATION_CACHE", None)
                env.pop("JAX_COMPILATION_CACHE_DIR", None)
                for label, code, extra in group:
                    print(row(d, capacity, label, timed(code, extra, env)), flush=True)


def row(d: str, capacity: str, label: str, result: dict[str, float] | str) -> str:
    if isinstance(result, str):
        cells = [f"failed: {result}", "", "", ""]
    else:
        cells = [f"{result.get(key, float('nan')):.2f}".replace("nan", "-")
                 for key in ("import", "first ask", "first proposal", "wait")]
    return f"| {d} | {capacity} | {label} | " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
