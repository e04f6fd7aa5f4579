"""Bayesian optimisation benchmark: simple regret (single objective) or hypervolume regret
(two objectives) against the number of evaluations, for evo's `BayesOpt` and `Turbo`,
uniform random search and Optuna's TPE and CMA-ES samplers at the same budget; then the
time to fit the GP and to propose a point with 100, 500 and 1000 observations.

Optuna's GPSampler is left out: it needs PyTorch, which evo does not install. Needs the
`bench` extra (`pip install -e ".[bo,bench]"`). Prints markdown tables.

Usage: python benchmarks/bo.py [--seeds 5] [--problems branin hartmann6 ackley10 dtlz2]
       [--methods bo turbo random tpe cmaes] [--sizes 100 500 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import platform
import sys
import time
from collections.abc import Callable

# Threaded OpenBLAS spins on the GP's small matrix solves: on a loaded 2-core machine a
# 60 x 60 triangular solve took 16 ms with its threads and 0.06 ms with one. Set before
# NumPy loads it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# This folder's cmaes.py would shadow the `cmaes` package that Optuna's CmaEsSampler imports.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(
    os.path.abspath(__file__)
):
    sys.path.pop(0)

import jax
import jax.numpy as jnp
import numpy as np
from evo.metrics import hypervolume
from evo.problems import DTLZ2, Ackley
from evo.problems.bo_functions import Branin, Hartmann6

from evo.bo import BayesOpt, Turbo, fit_gp_batch, standardise, to_unit

# DTLZ2 with two objectives: the front is the quarter circle |f| = 1, so the hypervolume
# of the front bounded by (r, r) is r^2 - pi / 4.
DTLZ2_REF = 1.1
DTLZ2_HV = DTLZ2_REF**2 - math.pi / 4.0


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    problem: object
    n_eval: int
    n_init: int
    marks: tuple[int, ...]


CASES = {
    "branin": Case("Branin (2-D)", Branin(), 40, 8, (10, 20, 30, 40)),
    "hartmann6": Case("Hartmann-6", Hartmann6(), 60, 12, (20, 40, 60)),
    "ackley10": Case("Ackley-10", Ackley(n_var=10), 100, 20, (25, 50, 100)),
    "dtlz2": Case(
        "DTLZ2 (6-D, 2 objectives)", DTLZ2(n_var=6, n_obj=2), 60, 12, (20, 40, 60)
    ),
}


def evo_observations(alg, problem, n_eval: int, seeds: int) -> np.ndarray:
    """Objectives `(seeds, n_eval, n_obj)` in evaluation order; seeds batched with vmap."""
    rounds = n_eval // alg.q

    def one(key):
        def round_(state, _):
            X, state = alg.ask(state)
            F = problem.evaluate(X)
            return alg.tell(state, F), F

        _, F = jax.lax.scan(round_, alg.init(key), None, length=rounds)
        return F.reshape(rounds * alg.q, -1)

    keys = jax.random.split(jax.random.key(0), seeds)
    return np.asarray(jax.jit(jax.vmap(one))(keys))


def run_bo(case: Case, seeds: int) -> np.ndarray:
    p = case.problem
    alg = BayesOpt(
        n_obj=p.n_obj, lb=p.lb, ub=p.ub, q=1, n_init=case.n_init, capacity=case.n_eval
    )
    return evo_observations(alg, p, case.n_eval, seeds)


def run_turbo(case: Case, seeds: int) -> np.ndarray:
    p = case.problem
    alg = Turbo(lb=p.lb, ub=p.ub, q=1, n_init=case.n_init, capacity=case.n_eval)
    return evo_observations(alg, p, case.n_eval, seeds)


def run_random(case: Case, seeds: int) -> np.ndarray:
    p = case.problem
    U = jax.random.uniform(jax.random.key(1), (seeds, case.n_eval, p.n_var))
    return np.asarray(
        p.evaluate((p.lb + U * (p.ub - p.lb)).reshape(-1, p.n_var))
    ).reshape(seeds, case.n_eval, p.n_obj)


def run_optuna(
    make_sampler: Callable[[int], object], case: Case, seeds: int
) -> np.ndarray:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    p = case.problem
    evaluate = jax.jit(p.evaluate)
    out = np.empty((seeds, case.n_eval, p.n_obj))
    for s in range(seeds):
        study = optuna.create_study(
            sampler=make_sampler(s), directions=["minimize"] * p.n_obj
        )

        def objective(trial):
            x = [
                trial.suggest_float(f"x{i}", lo, hi)
                for i, (lo, hi) in enumerate(zip(p.lb, p.ub))
            ]
            f = np.asarray(evaluate(jnp.asarray([x])))[0]
            return tuple(float(v) for v in f)

        study.optimize(objective, n_trials=case.n_eval)
        out[s] = [t.values for t in study.trials]
    return out


def tpe_sampler(seed: int):
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def cmaes_sampler(seed: int):
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed)


METHODS = {
    "bo": ("evo BayesOpt", run_bo),
    "turbo": ("evo Turbo", run_turbo),
    "random": ("random search", run_random),
    "tpe": ("Optuna TPE", functools.partial(run_optuna, tpe_sampler)),
    "cmaes": ("Optuna CMA-ES", functools.partial(run_optuna, cmaes_sampler)),
}
SINGLE_OBJECTIVE_ONLY = ("turbo", "cmaes")


def regret_at(case: Case, F: np.ndarray) -> np.ndarray:
    """Regret `(seeds, len(marks))` after each mark: best f - f* for one objective, the
    hypervolume left between the observed points and the true front for two."""
    p = case.problem
    if p.n_obj == 1:
        best = np.minimum.accumulate(F[..., 0], axis=1)
        return best[:, np.array(case.marks) - 1] - p.optimum_value
    ref = np.full(p.n_obj, DTLZ2_REF)
    return np.array(
        [[DTLZ2_HV - float(hypervolume(f[:m], ref)) for m in case.marks] for f in F]
    )


def regret_table(case: Case, methods: list[str], seeds: int) -> None:
    """Print one markdown table, a row per method as soon as it is done."""
    marks = " | ".join(f"{m} evals" for m in case.marks)
    print(
        f"{case.name}, budget {case.n_eval}, median regret over {seeds} seeds "
        f"(IQR at the budget), wall time per run:\n\n"
        f"| method | {marks} | IQR at {case.n_eval} | s / run |\n"
        + "|---" * (len(case.marks) + 3)
        + "|",
        flush=True,
    )
    for m in methods:
        if case.problem.n_obj > 1 and m in SINGLE_OBJECTIVE_ONLY:
            continue
        label, run = METHODS[m]
        t = time.perf_counter()
        F = run(case, seeds)
        wall = (time.perf_counter() - t) / seeds
        r = regret_at(case, F)
        q1, q3 = np.percentile(r[:, -1], [25, 75])
        cells = " | ".join(f"{v:.3g}" for v in np.median(r, axis=0))
        print(f"| {label} | {cells} | {q1:.2g} - {q3:.2g} | {wall:.1f} |", flush=True)
    print()


def timing_table(sizes: list[int]) -> list[str]:
    rows = ["| observations | fit GP (s) | ask = fit + propose (s) |", "|---|---|---|"]
    problem = Hartmann6()
    for n in sizes:
        alg = BayesOpt(
            n_obj=1,
            lb=problem.lb,
            ub=problem.ub,
            q=1,
            n_init=1,
            capacity=n,
            fit_restarts=2,
            fit_steps=20,
        )
        X = jax.random.uniform(jax.random.key(n), (n, problem.n_var))
        state = alg.init(jax.random.key(0))
        state = state.replace(
            X=X,
            F=problem.evaluate(X),
            filled=jnp.ones(n, bool),
            violation=jnp.zeros(n),
            generation=jnp.int32(5),
        )
        U = to_unit(state.X, alg.lb, alg.ub)
        masks = jnp.ones((n, 1), bool)
        Ys = standardise(state.F[:, 0], masks[:, 0])[0][:, None]
        fit = jax.jit(
            functools.partial(
                fit_gp_batch, X=U, Y=Ys, masks=masks, n_restarts=2, n_steps=20
            )
        )
        ask = jax.jit(alg.ask)
        jax.block_until_ready(fit(jax.random.key(1)))
        jax.block_until_ready(ask(state))
        t = time.perf_counter()
        jax.block_until_ready(fit(jax.random.key(2)))
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        jax.block_until_ready(ask(state.replace(key=jax.random.key(3))))
        t_ask = time.perf_counter() - t
        rows.append(f"| {n} | {t_fit:.2f} | {t_ask:.2f} |")
        print(f"  (n={n} done)", file=sys.stderr, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--problems", nargs="*", default=list(CASES), choices=list(CASES)
    )
    parser.add_argument(
        "--methods", nargs="*", default=list(METHODS), choices=list(METHODS)
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 500, 1000])
    args = parser.parse_args()
    device = jax.devices()[0]
    print("## Bayesian optimisation (benchmarks/bo.py)\n")
    print(
        f"{device.platform} ({device.device_kind}), {platform.processor() or platform.machine()}, "
        f"jax {jax.__version__}, float32. evo: defaults (log-EI, Matern-5/2 ARD, q = 1, "
        "Latin-hypercube initial design of n_init points), BayesOpt uses ParEGO for two "
        "objectives; Optuna: default samplers. Regret: best f - f* for one objective; for "
        f"DTLZ2, the true front's hypervolume ({DTLZ2_HV:.4f}, reference point "
        f"({DTLZ2_REF}, {DTLZ2_REF})) minus that of the observed points.\n"
    )
    for name in args.problems:
        regret_table(CASES[name], args.methods, args.seeds)
    if args.sizes:
        print(
            "Time per call (2nd call, compiled), Hartmann-6 data, fit_restarts = 2, "
            "fit_steps = 20, 512 candidates:\n"
        )
        print("\n".join(timing_table(args.sizes)))


if __name__ == "__main__":
    main()
