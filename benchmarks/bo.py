"""Bayesian optimisation benchmark: simple regret (single objective) or hypervolume regret
(several objectives) against the number of evaluations, for evo's `BayesOpt` (qLogNEHVI
for several objectives, and its ParEGO option) and `Turbo`, uniform random search, Optuna's
TPE and CMA-ES samplers and BoTorch (LogEI for one objective, qLogNEHVI for several) at the
same budget, `q` points per batch; then the time to fit the GP and to propose a point with
100, 500 and 1000 observations.

BoTorch starts from evo's initial designs (the same points for each seed); a peer that is
not installed is skipped with a note. Optuna's GPSampler is left out: it needs PyTorch.
Needs the `bench` extra (`pip install -e ".[bo,bench]"`), and `bench-bo` (BoTorch) for that peer.
Prints markdown tables.

Usage: python benchmarks/bo.py [--seeds 5] [--q 1 4]
       [--problems branin hartmann6 ackley10 dtlz2 branincurrin dtlz2_3 dtlz2_4]
       [--methods bo parego turbo random tpe cmaes botorch] [--sizes 100 500 1000]
       [--fit-methods adam lbfgs]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
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
from evo.bo.gp import FIT_METHODS


class BraninCurrin:
    """Branin and Currin's exponential function on [0, 1]^2, both minimised (Belakaria,
    Deshwal & Doppa 2019; BoTorch's test problem, whose reference point (18, 6) and
    maximum hypervolume 59.36011874867746 are used here)."""

    n_var, n_obj = 2, 2
    lb, ub = np.zeros(2), np.ones(2)
    ref = (18.0, 6.0)
    max_hv = 59.36011874867746
    _branin = Branin()

    def evaluate(self, X):
        X = jnp.asarray(X)
        x0, x1 = X[..., 0], X[..., 1]
        branin = self._branin.evaluate(jnp.stack([15.0 * x0 - 5.0, 15.0 * x1], -1))[..., 0]
        poly = (2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60) / (
            100 * x0**3 + 500 * x0**2 + 4 * x0 + 20
        )
        currin = (1.0 - jnp.exp(-1.0 / (2.0 * x1))) * poly
        return jnp.stack([branin, currin], -1)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    problem: object
    n_eval: int
    n_init: int
    marks: tuple[int, ...]
    ref: tuple[float, ...] | None = None  # hypervolume reference point (several objectives)
    max_hv: float | None = None  # the true front's hypervolume below `ref`
    q: int = 1


# DTLZ2's front is the positive part of the unit sphere |f| = 1, so the hypervolume of the
# front bounded by (r, ..., r) is r^m minus the sphere's share of the positive orthant.
DTLZ2_REF = 1.1


CASES = {
    "branin": Case("Branin (2-D)", Branin(), 40, 8, (10, 20, 30, 40)),
    "hartmann6": Case("Hartmann-6", Hartmann6(), 60, 12, (20, 40, 60)),
    "ackley10": Case("Ackley-10", Ackley(n_var=10), 100, 20, (25, 50, 100)),
    "dtlz2": Case(
        "DTLZ2 (6-D, 2 objectives)", DTLZ2(n_var=6, n_obj=2), 60, 12, (20, 40, 60),
        (DTLZ2_REF,) * 2, DTLZ2_REF**2 - math.pi / 4.0,
    ),
    "branincurrin": Case(
        "BraninCurrin (2-D, 2 objectives)", BraninCurrin(), 40, 6, (10, 20, 30, 40),
        BraninCurrin.ref, BraninCurrin.max_hv,
    ),
    "dtlz2_3": Case(
        "DTLZ2 (6-D, 3 objectives)", DTLZ2(n_var=6, n_obj=3), 60, 14, (20, 40, 60),
        (DTLZ2_REF,) * 3, DTLZ2_REF**3 - math.pi / 6.0,
    ),
    # The unit 4-ball's volume is pi^2 / 2, a sixteenth of it in the positive orthant.
    "dtlz2_4": Case(
        "DTLZ2 (6-D, 4 objectives)", DTLZ2(n_var=6, n_obj=4), 60, 14, (20, 40, 60),
        (DTLZ2_REF,) * 4, DTLZ2_REF**4 - math.pi**2 / 32.0,
    ),
}


def seed_keys(seeds: int) -> jax.Array:
    """The keys evo's runs start from, one per seed (they draw the initial designs)."""
    return jax.random.split(jax.random.key(0), seeds)


def evo_observations(alg, problem, n_eval: int, seeds: int) -> np.ndarray:
    """Objectives `(seeds, n_eval, n_obj)` in evaluation order, the seeds one after the
    other in one program (`lax.map`)."""
    rounds = n_eval // alg.q

    def one(key):
        def round_(state, _):
            X, state = alg.ask(state)
            F = problem.evaluate(X)
            return alg.tell(state, F), F

        _, F = jax.lax.scan(round_, alg.init(key), None, length=rounds)
        return F.reshape(rounds * alg.q, -1)

    return np.asarray(jax.jit(lambda keys: jax.lax.map(one, keys))(seed_keys(seeds)))


def bayes_opt(case: Case, **settings) -> BayesOpt:
    p = case.problem
    if p.n_obj > 1:
        settings.setdefault("ref_point", case.ref)
    return BayesOpt(
        n_obj=p.n_obj, lb=p.lb, ub=p.ub, q=case.q, n_init=case.n_init, capacity=case.n_eval,
        **settings,
    )


def run_bo(case: Case, seeds: int, **settings) -> np.ndarray:
    return evo_observations(bayes_opt(case, **settings), case.problem, case.n_eval, seeds)


def run_parego(case: Case, seeds: int, **settings) -> np.ndarray:
    alg = bayes_opt(case, mo_acquisition="parego", **settings)
    return evo_observations(alg, case.problem, case.n_eval, seeds)


def run_turbo(case: Case, seeds: int, **settings) -> np.ndarray:
    p = case.problem
    alg = Turbo(
        lb=p.lb, ub=p.ub, q=case.q, n_init=case.n_init, capacity=case.n_eval, **settings
    )
    return evo_observations(alg, p, case.n_eval, seeds)


def run_botorch(case: Case, seeds: int) -> np.ndarray | None:
    """BoTorch with its default SingleTaskGP (Standardize) per objective, from evo's
    initial design of each seed, 10 restarts from 512 raw samples, `q` points chosen
    sequentially. One objective: analytic LogEI for `q = 1`, qLogNEI otherwise; several:
    qLogNEHVI with 128 Sobol samples, as in BoTorch's multi-objective tutorial."""
    try:
        import torch
        from botorch.acquisition.analytic import LogExpectedImprovement
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.optim import optimize_acqf
        from botorch.sampling import SobolQMCNormalSampler
        from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood
    except ImportError:
        print("(BoTorch is not installed: `pip install -e \".[bench-bo]\"` to compare with it)\n")
        return None
    p = case.problem
    evaluate = jax.jit(p.evaluate)
    lb, ub = np.asarray(p.lb), np.asarray(p.ub)
    bounds = torch.stack([torch.zeros(p.n_var), torch.ones(p.n_var)]).double()
    out = np.empty((seeds, case.n_eval, p.n_obj))
    alg = bayes_opt(case)

    def acquisition(X, Y):
        if p.n_obj == 1:
            model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            if case.q == 1:
                return LogExpectedImprovement(model, best_f=Y.max())
            return qLogNoisyExpectedImprovement(model, X_baseline=X, prune_baseline=True)
        model = ModelListGP(*[
            SingleTaskGP(X, Y[:, i : i + 1], outcome_transform=Standardize(m=1))
            for i in range(p.n_obj)
        ])
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        return qLogNoisyExpectedHypervolumeImprovement(
            model, ref_point=[-r for r in case.ref], X_baseline=X, prune_baseline=True,
            sampler=SobolQMCNormalSampler(torch.Size([128])),
        )

    for s, key in enumerate(seed_keys(seeds)):
        torch.manual_seed(s)
        design = (np.asarray(alg.init(key).design) - lb) / (ub - lb)
        X = torch.tensor(design, dtype=torch.double)
        F = np.asarray(evaluate(jnp.asarray(lb + design * (ub - lb))), np.float64)
        while len(F) < case.n_eval:
            new, _ = optimize_acqf(
                acquisition(X, -torch.tensor(F)), bounds, q=case.q, num_restarts=10,
                raw_samples=512, options={"batch_limit": 5, "maxiter": 200},
                sequential=True,
            )
            X = torch.cat([X, new])
            x = lb + new.numpy() * (ub - lb)
            F = np.concatenate([F, np.asarray(evaluate(jnp.asarray(x)), np.float64)])
        out[s] = F[: case.n_eval]
    return out


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
    "parego": ("evo BayesOpt (ParEGO)", run_parego),
    "turbo": ("evo Turbo", run_turbo),
    "random": ("random search", run_random),
    "tpe": ("Optuna TPE", functools.partial(run_optuna, tpe_sampler)),
    "cmaes": ("Optuna CMA-ES", functools.partial(run_optuna, cmaes_sampler)),
    "botorch": ("BoTorch", run_botorch),
}
SINGLE_OBJECTIVE_ONLY = ("turbo", "cmaes")
MULTI_OBJECTIVE_ONLY = ("parego",)
BATCHED = ("bo", "parego", "turbo", "botorch")  # the others propose one point at a time
FITTED = ("bo", "parego", "turbo")  # evo's GP optimisers, which take a `fit_method`


def regret_at(case: Case, F: np.ndarray) -> np.ndarray:
    """Regret `(seeds, len(marks))` after each mark: best f - f* for one objective, the
    hypervolume left between the observed points and the true front for several."""
    p = case.problem
    if p.n_obj == 1:
        best = np.minimum.accumulate(F[..., 0], axis=1)
        return best[:, np.array(case.marks) - 1] - p.optimum_value
    ref = np.asarray(case.ref)
    return np.array(
        [[case.max_hv - float(hypervolume(f[:m], ref)) for m in case.marks] for f in F]
    )


def regret_table(
    case: Case, methods: list[str], seeds: int, fit_methods: list[str] | None = None
) -> None:
    """Print one markdown table, a row per method as soon as it is done; evo's GP
    optimisers get a row per fit method in `fit_methods` (None: their default)."""
    marks = " | ".join(f"{m} evals" for m in case.marks)
    print(
        f"{case.name}, q = {case.q}, budget {case.n_eval}, median regret over {seeds} seeds "
        f"(IQR at the budget), wall time per run:\n\n"
        f"| method | {marks} | IQR at {case.n_eval} | s / run |\n"
        + "|---" * (len(case.marks) + 3)
        + "|",
        flush=True,
    )
    multi = case.problem.n_obj > 1
    for m in methods:
        if (multi and m in SINGLE_OBJECTIVE_ONLY) or (not multi and m in MULTI_OBJECTIVE_ONLY):
            continue
        if case.q > 1 and m not in BATCHED:
            continue
        label, run = METHODS[m]
        if m in FITTED and fit_methods:
            runs = [(f"{label}, {f} fit", functools.partial(run, fit_method=f))
                    for f in fit_methods]
        else:
            runs = [(label, run)]
        for label, run in runs:
            t = time.perf_counter()
            F = run(case, seeds)
            if F is None:
                continue
            wall = (time.perf_counter() - t) / seeds
            r = regret_at(case, F)
            q1, q3 = np.percentile(r[:, -1], [25, 75])
            cells = " | ".join(f"{v:.3g}" for v in np.median(r, axis=0))
            print(f"| {label} | {cells} | {q1:.2g} - {q3:.2g} | {wall:.1f} |", flush=True)
    print()


def timing_table(sizes: list[int], fit_methods: list[str]) -> list[str]:
    """Seconds per compiled call on Hartmann-6 data, BayesOpt's default fit settings."""
    rows = [
        "| observations | fit method | fit GP (s) | ask = fit + propose (s) |",
        "|---|---|---|---|",
    ]
    problem = Hartmann6()
    for n, method in itertools.product(sizes, fit_methods):
        alg = BayesOpt(
            n_obj=1, lb=problem.lb, ub=problem.ub, q=1, n_init=1, capacity=n,
            fit_method=method,
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
                fit_gp_batch, X=U, Y=Ys, masks=masks, method=method,
                n_restarts=alg.fit_restarts, n_steps=alg.fit_steps,
                learning_rate=alg.fit_lr,
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
        rows.append(f"| {n} | {method} | {t_fit:.3f} | {t_ask:.3f} |")
        print(f"  (n={n}, {method} done)", file=sys.stderr, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--q", type=int, nargs="*", default=[1])
    parser.add_argument(
        "--problems", nargs="*", default=list(CASES), choices=list(CASES)
    )
    parser.add_argument(
        "--methods", nargs="*", default=list(METHODS), choices=list(METHODS)
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 500, 1000])
    parser.add_argument(
        "--fit-methods", nargs="*", choices=FIT_METHODS, default=None,
        help="a row per GP fit method for evo's optimisers (default: their default fit)",
    )
    args = parser.parse_args()
    device = jax.devices()[0]
    print("## Bayesian optimisation (benchmarks/bo.py)\n")
    print(
        f"{device.platform} ({device.device_kind}), {platform.processor() or platform.machine()}, "
        f"jax {jax.__version__}, float32. evo: defaults (log-EI, Matern-5/2 ARD, q = 1, "
        "Latin-hypercube initial design of n_init points), BayesOpt uses qLogNEHVI for "
        "several objectives, given the reference point; Optuna: default samplers. Regret: "
        "best f - f* for one objective; for several, the true front's hypervolume below the "
        "reference point (BraninCurrin (18, 6), DTLZ2 1.1 in each objective) minus that "
        "of the observed points.\n"
    )
    for name in args.problems:
        for q in args.q:
            regret_table(
                dataclasses.replace(CASES[name], q=q), args.methods, args.seeds,
                args.fit_methods,
            )
    if args.sizes:
        print(
            "Time per call (2nd call, compiled), Hartmann-6 data, BayesOpt's defaults "
            "(fit_restarts, fit_steps, 512 candidates):\n"
        )
        fit_methods = args.fit_methods or [BayesOpt.__dataclass_fields__["fit_method"].default]
        print("\n".join(timing_table(args.sizes, fit_methods)))


if __name__ == "__main__":
    main()
