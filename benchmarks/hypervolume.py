"""Exact and Monte Carlo hypervolume: evo.metrics against moocore and pymoo.

    python benchmarks/hypervolume.py [--repeats 5]

Fronts are points on the positive unit sphere (mutually non-dominated), reference point 1.1
in every objective, float64 throughout. Our 2-D and 3-D times are for the JAX code after
compilation (compilation is reported separately); for 5 objectives ours is moocore behind
our input checks. pymoo's `HV` calls `moocore.hypervolume` itself. The Monte Carlo table
compares `hypervolume_mc` with moocore's `hv_approx` (method DZ2019-MC, the same sample
count) against the exact value. Times are medians of `--repeats` calls. Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import jax

jax.config.update("jax_enable_x64", True)

import moocore  # noqa: E402
import numpy as np  # noqa: E402
from pymoo.indicators.hv import HV  # noqa: E402

from evo.metrics import hypervolume, hypervolume_mc  # noqa: E402

REF = 1.1


def sphere_front(n: int, m: int, seed: int = 0) -> np.ndarray:
    F = np.abs(np.random.default_rng(seed).normal(size=(n, m)))
    return F / np.linalg.norm(F, axis=1, keepdims=True)


def timed(fn: Callable[[], float], repeats: int) -> tuple[float, float, float]:
    """(first call seconds, median seconds of `repeats` further calls, value)."""
    start = time.perf_counter()
    value = float(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(fn())
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), value


def exact_table(repeats: int) -> None:
    print("| m | n | ours (s) | ours first call, with compilation (s) | moocore (s) | pymoo HV (s) "
          "| ours / moocore | ours | moocore | rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m, sizes in ((2, (100, 1000, 5000)), (3, (100, 1000, 5000)), (5, (100, 1000))):
        ref = np.full(m, REF)
        for n in sizes:
            F = sphere_front(n, m)
            F_device = jax.device_put(F)
            first, ours_s, ours = timed(lambda: hypervolume(F_device, ref), repeats)
            _, moocore_s, theirs = timed(lambda: moocore.hypervolume(F, ref=ref), repeats)
            indicator = HV(ref_point=ref)
            _, pymoo_s, pymoo_value = timed(lambda: indicator.do(F), repeats)
            assert abs(pymoo_value - theirs) <= 1e-12 * theirs
            compile_s = f"{first:.2f}" if m <= 3 else "n/a"
            print(f"| {m} | {n} | {ours_s:.2e} | {compile_s} | {moocore_s:.2e} | {pymoo_s:.2e} "
                  f"| {ours_s / moocore_s:.1f} | {ours:.12f} | {theirs:.12f} "
                  f"| {abs(ours - theirs) / theirs:.1e} |")


def mc_table(repeats: int) -> None:
    print("| m | n | samples | ours (s) | ours rel. error | ours error / stderr "
          "| moocore DZ2019-MC (s) | moocore rel. error |")
    print("|---|---|---|---|---|---|---|---|")
    for m, n in ((3, 1000), (5, 1000)):
        F = sphere_front(n, m)
        ref = np.full(m, REF)
        exact = float(hypervolume(F, ref))
        for n_samples in (10**4, 10**5, 10**6):
            key = jax.random.key(0)
            estimate = hypervolume_mc(key, F, ref, n_samples)
            _, ours_s, ours = timed(lambda: hypervolume_mc(key, F, ref, n_samples).value, repeats)
            _, theirs_s, theirs = timed(
                lambda: moocore.hv_approx(F, ref, nsamples=n_samples, seed=0, method="DZ2019-MC"),
                repeats,
            )
            print(f"| {m} | {n} | {n_samples:.0e} | {ours_s:.2e} | {abs(ours - exact) / exact:.1e} "
                  f"| {abs(ours - exact) / float(estimate.stderr):.2f} | {theirs_s:.2e} "
                  f"| {abs(theirs - exact) / exact:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per entry")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, moocore {moocore.__version__}\n")
    print("Exact hypervolume, reference point 1.1, points on the unit sphere:\n")
    exact_table(args.repeats)
    print("\nMonte Carlo estimate in the box [min F, 1.1], one key:\n")
    mc_table(args.repeats)


if __name__ == "__main__":
    main()
