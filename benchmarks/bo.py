"""Bayesian optimisation benchmark: simple regret vs evaluations against random search on
Branin and Hartmann-6, and the time to fit the GP / propose a point at 100-1000 observations.

Prints markdown tables. Usage: python benchmarks/bo.py [--seeds 5] [--sizes 100 500 1000]
"""

from __future__ import annotations

import argparse
import functools
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from evo.problems.bo_functions import Branin, Hartmann6

from evo.bo import BayesOpt, fit_gp_batch, standardise, to_unit


def bo_curves(problem, n_eval, n_init, seeds, key):
    """Best-so-far regret `(seeds, n_eval)` of BayesOpt (q = 1), seeds batched with vmap."""
    alg = BayesOpt(
        n_obj=1, lb=problem.lb, ub=problem.ub, q=1, n_init=n_init, capacity=n_eval
    )

    def one(key):
        state = alg.init(key)

        def round_(state, _):
            X, state = alg.ask(state)
            F = problem.evaluate(X)
            return alg.tell(state, F), F[0, 0]

        _, F = jax.lax.scan(round_, state, None, length=n_eval)
        return jax.lax.cummin(F) - problem.optimum_value

    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(key, seeds)))


def random_curves(problem, n_eval, seeds, key):
    U = jax.random.uniform(key, (seeds, n_eval, problem.n_var))
    F = problem.evaluate(problem.lb + U * (problem.ub - problem.lb))[..., 0]
    return np.asarray(jax.lax.cummin(F, axis=1) - problem.optimum_value)


def regret_table(seeds):
    rows = [
        "| problem | evals | BO median regret | BO IQR | random median regret | BO seeds < 1e-2 |",
        "|---|---|---|---|---|---|",
    ]
    for problem, n_eval, n_init, marks in (
        (Branin(), 40, 8, (10, 20, 30, 40)),
        (Hartmann6(), 60, 12, (20, 40, 60)),
    ):
        t = time.perf_counter()
        bo = bo_curves(problem, n_eval, n_init, seeds, jax.random.key(0))
        elapsed = time.perf_counter() - t
        rnd = random_curves(problem, n_eval, seeds, jax.random.key(1))
        for m in marks:
            b = bo[:, m - 1]
            q1, q3 = np.percentile(b, [25, 75])
            rows.append(
                f"| {type(problem).__name__} | {m} | {np.median(b):.2e} | {q1:.1e} - {q3:.1e} "
                f"| {np.median(rnd[:, m - 1]):.2e} | {np.sum(b < 1e-2)}/{seeds} |"
            )
        print(
            f"  ({type(problem).__name__}: {seeds} seeds x {n_eval} evals in {elapsed:.0f} s "
            "incl. compilation)",
            flush=True,
        )
    return rows


def timing_table(sizes):
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
            n_restarts=2,
            fit_steps=20,
        )
        X = jax.random.uniform(jax.random.key(n), (n, problem.n_var))
        state = alg.init(jax.random.key(0))
        state = state._replace(
            X=X,
            F=problem.evaluate(X),
            filled=jnp.ones(n, bool),
            violation=jnp.zeros(n),
            n_told=jnp.int32(5),
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
        jax.block_until_ready(ask(state._replace(key=jax.random.key(3))))
        t_ask = time.perf_counter() - t
        rows.append(f"| {n} | {t_fit:.2f} | {t_ask:.2f} |")
        print(f"  (n={n} done)", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 500, 1000])
    args = parser.parse_args()
    device = jax.devices()[0]
    print("## Bayesian optimisation (benchmarks/bo.py)\n")
    print(
        f"{device.platform} ({device.device_kind}), {platform.processor() or platform.machine()}, "
        f"jax {jax.__version__}, float32. BayesOpt defaults (log-EI, Matern-5/2 ARD, q = 1, "
        "LHS initial design); random search: uniform samples. Regret = best f - f*.\n"
    )
    print("\n".join(regret_table(args.seeds)))
    print(
        "\nTime per call (2nd call, compiled), Hartmann-6 data, n_restarts = 2, fit_steps = 20, "
        "512 candidates:\n"
    )
    print("\n".join(timing_table(args.sizes)))


if __name__ == "__main__":
    main()
