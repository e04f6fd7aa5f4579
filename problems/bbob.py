"""The 24 noiseless BBOB functions (COCO's "bbob" suite) as batched, jittable problems.

Definitions: Hansen, Finck, Ros & Auger (2009), "Real-Parameter Black-Box Optimization
Benchmarking 2009: Noiseless Functions Definitions", INRIA RR-6829. Instance generation
follows COCO's legacy bbob2009 code (numbbo/coco, `code-experiments/src/
suite_bbob_legacy_code.c`: `bbob2009_unif`, `bbob2009_gauss`, `bbob2009_compute_xopt`,
`bbob2009_compute_rotation`, `bbob2009_compute_fopt`) and the per-function constructors
(`f_sphere.c`, ..., `f_lunacek_bi_rastrigin.c`, `transform_vars_*.c`, `transform_obj_*.c`),
re-implemented here, so that values equal those of COCO (`cocoex`) for the same
function, dimension and instance.

Instance data (x_opt, f_opt, rotations, Gallagher peaks) are computed once per
`(function, n_var, instance)` in NumPy float64; evaluation is in JAX in the dtype of `X`.

Precision. Where COCO's formula cancels near the optimum, an algebraically equal form is
used (`n - sum cos(2 pi z) = 2 sum sin^2(pi z)` in the Rastrigin terms, the same in f16
and f19, `expm1` and `log1p` in f21-f23, `5 - |z|` in f5, Rosenbrock in `z - 1` in f8,
f9 and f19), so that float32 values stay relative to the regret; f20 (Schwefel) still
cancels. f_opt is added last, and float32 resolves f_opt + regret only to about 1e-7
|f_opt| (|f_opt| reaches 1000): with `subtract_optimum=True` the values are the regret
f - f_opt itself, ranked as before, and a float32 run can reach 1e-8 where the float32
grid of x allows it. That grid (spacing 4.8e-7 at |x| = 4) bounds the regret of f13, f17,
f18 and f23 above 1e-8 at every float32 point near x_opt in 5-D, and leaves f2 and
f10-f14 within a few grid steps of it.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems.single_objective import SingleObjective

# ---------------------------------------------------------------------------------------
# COCO's legacy random numbers (suite_bbob_legacy_code.c), float64 NumPy.
# ---------------------------------------------------------------------------------------


def _unif(n: int, seed: int) -> np.ndarray:
    """`bbob2009_unif`: `n` uniforms in (0, 1) from COCO's shuffled Lehmer generator."""
    seed = max(abs(int(seed)), 1)
    akt = seed
    table = [0] * 32

    def step(a: int) -> int:
        tmp = a // 127773  # floor((double) a / 127773) for a >= 0
        a = 16807 * (a - tmp * 127773) - 2836 * tmp
        return a + 2147483647 if a < 0 else a

    for i in range(39, -1, -1):
        akt = step(akt)
        if i < 32:
            table[i] = akt
    aktrand = table[0]
    out = np.empty(n)
    for i in range(n):
        akt = step(akt)
        tmp = aktrand // 67108865
        aktrand = table[tmp]
        table[tmp] = akt
        r = aktrand / 2.147483647e9
        out[i] = 1e-99 if r == 0.0 else r
    return out


def _gauss(n: int, seed: int) -> np.ndarray:
    """`bbob2009_gauss`: `n` Box-Muller normals from `2 n` uniforms of `_unif`."""
    u = _unif(2 * n, seed)
    g = np.sqrt(-2.0 * np.log(u[:n])) * np.cos(2.0 * math.pi * u[n:])
    g[g == 0.0] = 1e-99
    return g


def _xopt(seed: int, dim: int) -> np.ndarray:
    """`bbob2009_compute_xopt`: uniform in [-4, 4], rounded down to 4 decimals, never 0."""
    x = 8.0 * np.floor(1e4 * _unif(dim, seed)) / 1e4 - 4.0
    x[x == 0.0] = -1e-5
    return x


def _rotation(seed: int, dim: int) -> np.ndarray:
    """`bbob2009_compute_rotation`: Gram-Schmidt of the columns of a Gaussian matrix."""
    B = _gauss(dim * dim, seed).reshape(dim, dim).T.copy()  # B[i][j] = g[j * dim + i]
    for i in range(dim):
        for j in range(i):
            B[:, i] -= np.dot(B[:, i], B[:, j]) * B[:, j]
        B[:, i] /= math.sqrt(np.dot(B[:, i], B[:, i]))
    return B


def _fopt(seed: int) -> float:
    """`bbob2009_compute_fopt`: a rounded Cauchy value clipped to [-1000, 1000]."""
    g1 = _gauss(1, seed)[0]
    g2 = _gauss(1, seed + 1)[0]
    return min(1000.0, max(-1000.0, math.floor(100.0 * 100.0 * g1 / g2 + 0.5) / 100.0))


def _lambda(alpha: float, dim: int) -> np.ndarray:
    """The diagonal of Lambda^alpha: `alpha^(0.5 i / (dim - 1))`."""
    return alpha ** (0.5 * np.arange(dim) / (dim - 1))


# ---------------------------------------------------------------------------------------
# Shared transformations (JAX, batched over leading axes).
# ---------------------------------------------------------------------------------------


def _t_osz(x: jax.Array) -> jax.Array:
    """T_osz (transform_vars_oscillate / transform_obj_oscillate), elementwise."""
    safe = jnp.where(x == 0, 1.0, jnp.abs(x))
    xh = jnp.log(safe)
    pos = x > 0
    c1 = jnp.where(pos, 10.0, 5.5)
    c2 = jnp.where(pos, 7.9, 3.1)
    y = jnp.exp(xh + 0.049 * (jnp.sin(c1 * xh) + jnp.sin(c2 * xh)))
    return jnp.where(x == 0, 0.0, jnp.sign(x) * y)


def _t_asy(x: jax.Array, beta: float) -> jax.Array:
    """T_asy^beta (transform_vars_asymmetric): `x^(1 + beta i/(D-1) sqrt(x))` for x > 0."""
    d = x.shape[-1]
    e = beta * jnp.arange(d, dtype=x.dtype) / (d - 1)
    safe = jnp.where(x > 0, x, 1.0)
    return jnp.where(x > 0, safe ** (1.0 + e * jnp.sqrt(safe)), x)


def _f_pen(x: jax.Array) -> jax.Array:
    """f_pen: `sum max(0, |x_i| - 5)^2` (transform_obj_penalize), over the last axis."""
    return jnp.sum(jnp.maximum(0.0, jnp.abs(x) - 5.0) ** 2, axis=-1)


def _round(x: jax.Array) -> jax.Array:
    """`coco_double_round`: floor(x + 0.5) (not round-half-even)."""
    return jnp.floor(x + 0.5)


def _cosine_deficit(z: jax.Array) -> jax.Array:
    """`sum (1 - cos(2 pi z))` over the last axis, without cancellation near integers."""
    return 2.0 * jnp.sum(jnp.sin(jnp.pi * z) ** 2, axis=-1)


def _rastrigin(z: jax.Array) -> jax.Array:
    return 10.0 * _cosine_deficit(z) + jnp.sum(z**2, axis=-1)


def _rosenbrock_terms(u: jax.Array) -> jax.Array:
    """Rosenbrock's `100 (a^2 - b)^2 + (a - 1)^2` `(..., D - 1)` over consecutive pairs
    `a, b` of `z = 1 + u`, computed from `u` `(..., D)`: no cancellation near z = 1."""
    a, b = u[..., :-1], u[..., 1:]
    return 100.0 * (a * (2.0 + a) - b) ** 2 + a**2


def _ellipsoid(z: jax.Array) -> jax.Array:
    d = z.shape[-1]
    w = 1e6 ** (jnp.arange(d, dtype=z.dtype) / (d - 1))
    return jnp.sum(w * z**2, axis=-1)


def _schaffers(z: jax.Array) -> jax.Array:
    s2 = z[..., :-1] ** 2 + z[..., 1:] ** 2
    t = s2**0.25 * (1.0 + jnp.sin(50.0 * s2**0.1) ** 2)
    return jnp.mean(t, axis=-1) ** 2


def _mv(M: jax.Array, x: jax.Array) -> jax.Array:
    """`M @ x` for a batch `x` `(..., D)`."""
    return x @ M.T


# ---------------------------------------------------------------------------------------
# The 24 functions: f(X, data) -> values without f_opt. `data` holds JAX arrays.
# ---------------------------------------------------------------------------------------


def _f1(x, d):
    return jnp.sum((x - d["xopt"]) ** 2, axis=-1)


def _f2(x, d):
    return _ellipsoid(_t_osz(x - d["xopt"]))


def _f3(x, d):
    z = d["lam10"] * _t_asy(_t_osz(x - d["xopt"]), 0.2)
    return _rastrigin(z)


def _f4(x, d):
    # transform_vars_brs: s_i = sqrt(10)^(i/(D-1)), times 10 where z_i > 0 and i even (0-based).
    z = _t_osz(x - d["xopt"])
    even = (jnp.arange(x.shape[-1]) % 2) == 0
    s = d["lam10"] * jnp.where((z > 0) & even, 10.0, 1.0)
    return _rastrigin(s * z) + 100.0 * _f_pen(x)


def _f5(x, d):
    xo = d["xopt"]  # +-5
    z = jnp.where(x * xo < 25.0, x, xo)
    # COCO's sum 5 |s| - s z for s = sign(x_opt) lam100, as sum |s| (5 - sign(x_opt) z)
    return jnp.sum(d["lam100"] * (5.0 - jnp.sign(xo) * z), axis=-1)


def _f6(x, d):
    z = _mv(d["M"], x - d["xopt"])
    s = jnp.where(z * d["xopt"] > 0, 100.0, 1.0)
    raw = jnp.sum((s * z) ** 2, axis=-1)
    return _t_osz(raw) ** 0.9


def _f7(x, d):
    zh = _mv(d["LQ"], x - d["xopt"])  # Lambda^10 Q (x - xopt)
    zt = jnp.where(jnp.abs(zh) > 0.5, _round(zh), _round(10.0 * zh) / 10.0)
    z = _mv(d["R"], zt)
    w = 100.0 ** (jnp.arange(x.shape[-1], dtype=x.dtype) / (x.shape[-1] - 1))
    core = jnp.sum(w * z**2, axis=-1)
    return 0.1 * jnp.maximum(jnp.abs(zh[..., 0]) / 1e4, core) + _f_pen(x)


def _f8(x, d):
    return jnp.sum(_rosenbrock_terms(d["scale"] * (x - d["xopt"])), axis=-1)


def _f9(x, d):
    # COCO's z = M x + 1/2 is 1 + M (x - x_opt), as M x_opt = 1/2.
    return jnp.sum(_rosenbrock_terms(_mv(d["M"], x - d["xopt"])), axis=-1)


def _f10(x, d):
    return _ellipsoid(_t_osz(_mv(d["R"], x - d["xopt"])))


def _f11(x, d):
    z = _t_osz(_mv(d["R"], x - d["xopt"]))
    return 1e6 * z[..., 0] ** 2 + jnp.sum(z[..., 1:] ** 2, axis=-1)


def _f12(x, d):
    z = _mv(d["R"], _t_asy(_mv(d["R"], x - d["xopt"]), 0.5))
    return z[..., 0] ** 2 + 1e6 * jnp.sum(z[..., 1:] ** 2, axis=-1)


def _f13(x, d):
    z = _mv(d["M"], x - d["xopt"])
    return z[..., 0] ** 2 + 100.0 * jnp.sqrt(jnp.sum(z[..., 1:] ** 2, axis=-1))


def _f14(x, d):
    z = _mv(d["R"], x - d["xopt"])
    n = x.shape[-1]
    e = 2.0 + 4.0 * jnp.arange(n, dtype=x.dtype) / (n - 1)
    return jnp.sqrt(jnp.sum(jnp.abs(z) ** e, axis=-1))


def _f15(x, d):
    z = _mv(d["M"], _t_asy(_t_osz(_mv(d["R"], x - d["xopt"])), 0.2))
    return _rastrigin(z)


_WEIERSTRASS_K = np.arange(12)


def _f16(x, d):
    z = _mv(d["M"], _t_osz(_mv(d["R"], x - d["xopt"])))
    a = jnp.asarray(0.5**_WEIERSTRASS_K, x.dtype)
    b = jnp.asarray(3.0**_WEIERSTRASS_K, x.dtype)
    # COCO's sum a cos(2 pi b (z + 1/2)) / n - sum a cos(pi b): as b = 3^k is odd, each
    # term is a (1 - cos(2 pi b z)) = 2 a sin^2(pi b z), which does not cancel near z = 0.
    s = 2.0 * jnp.sum(a * jnp.sin(jnp.pi * z[..., None] * b) ** 2, axis=(-1, -2))
    n = x.shape[-1]
    return 10.0 * (s / n) ** 3 + 10.0 / n * _f_pen(x)


def _f17(x, d):
    z = _mv(d["M"], _t_asy(_mv(d["R"], x - d["xopt"]), 0.5))
    return _schaffers(z) + 10.0 * _f_pen(x)


_f18 = _f17


def _f19(x, d):
    s = _rosenbrock_terms(_mv(d["M"], x - d["xopt"]))  # as in f9
    # 10 + 10 mean(s / 4000 - cos s), with 1 - cos s = 2 sin^2(s / 2)
    return 10.0 * jnp.mean(s / 4000.0 + 2.0 * jnp.sin(0.5 * s) ** 2, axis=-1)


def _f20(x, d):
    xo = d["xopt"]  # +-4.2096874637 / 2
    two_abs = 2.0 * jnp.abs(xo)
    xh = 2.0 * jnp.sign(xo) * x
    zh = jnp.concatenate(
        [xh[..., :1], xh[..., 1:] + 0.25 * (xh[..., :-1] - two_abs[:-1])], axis=-1
    )
    z = 100.0 * (d["lam10"] * (zh - two_abs) + two_abs)
    n = x.shape[-1]
    pen = jnp.sum(jnp.maximum(0.0, jnp.abs(z) - 500.0) ** 2, axis=-1)
    s = jnp.sum(z * jnp.sin(jnp.sqrt(jnp.abs(z))), axis=-1)
    return 0.01 * (pen + 418.9828872724339 - s / n)


def _gallagher(x, d):
    n = x.shape[-1]
    rx = _mv(d["R"], x)  # (..., D)
    diff = rx[..., None, :] - d["peaks"]  # (..., P, D); peaks are R y_i
    q = jnp.sum(d["scales"] * diff**2, axis=-1)  # (..., P)
    # COCO's 10 - max h exp(-q / 2n), as min (10 - h) - h expm1(-q / 2n): exact where the
    # best peak is the global one (h = 10).
    h = d["heights"]
    deficit = jnp.min((10.0 - h) - h * jnp.expm1(-0.5 / n * q), axis=-1)
    return _t_osz(deficit) ** 2 + _f_pen(x)


_f21 = _gallagher
_f22 = _gallagher


def _f23(x, d):
    z = _mv(d["M"], x - d["xopt"])
    n = x.shape[-1]
    p = jnp.asarray(2.0 ** np.arange(1, 33), x.dtype)
    t = z[..., None] * p
    s = jnp.sum(jnp.abs(t - _round(t)) / p, axis=-1)  # (..., D)
    # COCO's prod (1 + i s_i)^(10 / n^1.2) - 1, through expm1 and log1p
    log_prod = jnp.sum(jnp.log1p(jnp.arange(1, n + 1, dtype=x.dtype) * s), axis=-1)
    return 10.0 / n**2 * jnp.expm1(10.0 / n**1.2 * log_prod) + _f_pen(x)


def _f24(x, d):
    n = x.shape[-1]
    mu0 = 2.5
    s = 1.0 - 1.0 / (2.0 * math.sqrt(n + 20.0) - 8.2)
    mu1 = -math.sqrt((mu0**2 - 1.0) / s)
    xh = 2.0 * jnp.sign(d["xopt"]) * x
    z = _mv(d["M"], xh - mu0)
    s1 = jnp.sum((xh - mu0) ** 2, axis=-1)
    s2 = jnp.sum((xh - mu1) ** 2, axis=-1)
    return jnp.minimum(s1, n + s * s2) + 10.0 * _cosine_deficit(z) + 1e4 * _f_pen(x)


_FUNCTIONS = {i: globals()[f"_f{i}"] for i in range(1, 25)}

_NAMES = {
    1: "Sphere",
    2: "Separable Ellipsoid",
    3: "Rastrigin",
    4: "Bueche-Rastrigin",
    5: "Linear Slope",
    6: "Attractive Sector",
    7: "Step Ellipsoid",
    8: "Rosenbrock",
    9: "Rotated Rosenbrock",
    10: "Ellipsoid",
    11: "Discus",
    12: "Bent Cigar",
    13: "Sharp Ridge",
    14: "Different Powers",
    15: "Rotated Rastrigin",
    16: "Weierstrass",
    17: "Schaffers F7",
    18: "Schaffers F7, ill-conditioned",
    19: "Griewank-Rosenbrock F8F2",
    20: "Schwefel x sin(sqrt(x))",
    21: "Gallagher 101 peaks",
    22: "Gallagher 21 peaks",
    23: "Katsuura",
    24: "Lunacek bi-Rastrigin",
}


# ---------------------------------------------------------------------------------------
# Instance data (float64 NumPy), following each COCO constructor.
# ---------------------------------------------------------------------------------------


def _gallagher_data(seed: int, dim: int, n_peaks: int) -> dict:
    """f_gallagher_bbob_problem_allocate (f_gallagher.c)."""
    if n_peaks == 101:
        max_cond1, b, c = math.sqrt(1000.0), 10.0, 5.0
    else:
        max_cond1, b, c = 1000.0, 9.8, 4.9
    R = _rotation(seed, dim)
    rperm = np.argsort(_unif(n_peaks - 1, seed), kind="stable")
    heights = np.empty(n_peaks)
    heights[0] = 10.0
    heights[1:] = np.arange(n_peaks - 1) / (n_peaks - 2) * (9.1 - 1.1) + 1.1
    cond = np.empty(n_peaks)
    cond[0] = max_cond1
    cond[1:] = 1000.0 ** (rperm / (n_peaks - 2))
    scales = np.empty((n_peaks, dim))
    for i in range(n_peaks):
        perm = np.argsort(_unif(dim, seed + 1000 * i), kind="stable")
        scales[i] = cond[i] ** (perm / (dim - 1) - 0.5)
    u = _unif(dim * n_peaks, seed).reshape(n_peaks, dim)
    y = b * u - c  # peak j is row j (before rotation)
    y[0] *= 0.8
    peaks = y @ R.T  # row j: R y_j
    return {
        "R": R,
        "peaks": peaks,
        "scales": scales,
        "heights": heights,
        "xopt": y[0].copy(),
    }


@functools.lru_cache(maxsize=64)
def _instance_data(function: int, dim: int, instance: int) -> tuple[dict, float]:
    """NumPy float64 data for one instance and its f_opt, as COCO's bbob suite builds them."""
    base = {4: 3, 18: 17}.get(function, function)  # f4 reuses f3's seed, f18 f17's.
    rseed = base + 10000 * instance
    fopt = _fopt(rseed)
    d: dict = {}
    n = dim
    if function in (1, 2, 3, 4, 6, 7, 10, 11, 13, 14, 15, 16, 17, 18, 23):
        d["xopt"] = _xopt(rseed, n)
    if function in (3, 4, 20):
        d["lam10"] = _lambda(10.0, n)
    if function == 4:
        d["xopt"][0::2] = np.abs(d["xopt"][0::2])
    elif function == 5:
        d["xopt"] = np.where(_xopt(rseed, n) < 0, -5.0, 5.0)
        d["lam100"] = _lambda(100.0, n)
    elif function in (6, 13, 15, 16, 23):
        R = _rotation(rseed + 1000000, n)
        Q = _rotation(rseed, n)
        alpha = {6: 10.0, 13: 10.0, 15: 10.0, 16: 0.01, 23: 100.0}[function]
        d["M"] = R @ np.diag(_lambda(alpha, n)) @ Q
        d["R"] = R
    elif function == 7:
        d["R"] = _rotation(rseed + 1000000, n)
        d["LQ"] = np.diag(_lambda(10.0, n)) @ _rotation(rseed, n)
    elif function == 8:
        d["xopt"] = 0.75 * _xopt(rseed, n)
        d["scale"] = np.asarray(max(1.0, math.sqrt(n) / 8.0))
    elif function in (9, 19):
        scale = max(1.0, math.sqrt(n) / 8.0)
        R = _rotation(rseed, n)
        d["M"] = scale * R
        d["xopt"] = R.T @ np.full(n, (1.0 - 0.5) / scale)  # M x + 0.5 = 1
    elif function in (10, 11, 14):
        d["R"] = _rotation(rseed + 1000000, n)
    elif function == 12:
        d["xopt"] = _xopt(rseed + 1000000, n)
        d["R"] = _rotation(rseed + 1000000, n)
    elif function in (17, 18):
        d["R"] = _rotation(rseed + 1000000, n)
        alpha = 10.0 if function == 17 else 1000.0
        d["M"] = np.diag(_lambda(alpha, n)) @ _rotation(rseed, n)
    elif function == 20:
        d["xopt"] = np.where(_unif(n, rseed) < 0.5, -1.0, 1.0) * (0.5 * 4.2096874637)
    elif function in (21, 22):
        d.update(_gallagher_data(rseed, n, 101 if function == 21 else 21))
    elif function == 24:
        d["xopt"] = np.where(_gauss(n, rseed) < 0.0, -1.25, 1.25)
        R = _rotation(rseed + 1000000, n)
        Q = _rotation(rseed, n)
        d["M"] = R @ np.diag(_lambda(100.0, n)) @ Q
    for v in d.values():
        v.setflags(write=False)
    return d, fopt


# ---------------------------------------------------------------------------------------
# The problem class.
# ---------------------------------------------------------------------------------------


@settings_class(eq=True)
class BBOB(SingleObjective):
    """BBOB noiseless function `function` (1-24), instance `instance`, on [-5, 5]^n_var.

    Values equal COCO's `bbob` suite (`cocoex`, problem `bbob_f{function}_i{instance}_d
    {n_var}`), f_opt included. Any `n_var >= 2` is accepted (COCO uses 2, 3, 5, 10, 20, 40).
    `optimum_x` is COCO's x_opt and `optimum_value` its f_opt; for f20 (Schwefel) the
    value at `optimum_x` is f_opt only up to ~1e-12, as in COCO.

    With `subtract_optimum=True` the values are COCO's less f_opt (the regret; ranking
    unchanged) and `optimum_value` is 0, so that float32 resolves them near the optimum
    (module docs); `f_opt` is COCO's f_opt either way.

    Example: `get_problem("bbob", function=3, n_var=10, instance=1)`.
    """

    function: int = 1
    instance: int = 1
    subtract_optimum: bool = False

    _lower = -5.0
    _upper = 5.0
    _min_n_var = 2

    def __post_init__(self) -> None:
        if check_int("BBOB function", self.function) > 24:
            raise ValueError(f"BBOB function must be an integer in 1..24, got {self.function!r}")
        check_int("instance", self.instance)
        if not isinstance(self.subtract_optimum, bool):
            raise ValueError(f"BBOB: subtract_optimum must be True or False, got "
                             f"{self.subtract_optimum!r}")
        super().__post_init__()

    @property
    def name(self) -> str:
        """The function's name in the BBOB definitions, e.g. "Rastrigin"."""
        return _NAMES[int(self.function)]

    def _data(self) -> tuple[dict, float]:
        return _instance_data(int(self.function), int(self.n_var), int(self.instance))

    @property
    def optimum_x(self) -> np.ndarray:
        """COCO's x_opt `(n_var,)` of this instance."""
        return np.array(self._data()[0]["xopt"])

    @property
    def f_opt(self) -> float:
        """COCO's f_opt of this instance."""
        return self._data()[1]

    @property
    def optimum_value(self) -> float:
        """The least value: `f_opt`, or 0 with `subtract_optimum`."""
        return 0.0 if self.subtract_optimum else self.f_opt

    def _f(self, X: jax.Array) -> jax.Array:
        data, _ = self._data()
        d = {k: jnp.asarray(v, X.dtype) for k, v in data.items()}
        regret = _FUNCTIONS[int(self.function)](X, d)
        return regret + self.optimum_value
