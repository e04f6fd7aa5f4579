"""Problems evaluated outside JAX: a plain Python function, or a pymoo `Problem`.

Both are called through `jax.pure_callback`, so they work inside `evo.run`'s compiled loop.
The cost of leaving the device: every generation the population `(n, n_var)` is copied to
the host, the compiled step waits while Python evaluates it, and the objectives are copied
back. For a simulator that takes milliseconds per individual this is negligible; for a
function that could be written in `jax.numpy`, write it in JAX instead (a subclass of
`Problem`), which keeps the whole generation on the device.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np

from evo.algorithm import as_bounds
from evo.problems.base import Problem, check_positive_int


def _host_call(fn: Callable[[np.ndarray], Any], X: jax.Array, shapes: Any) -> Any:
    """`fn(np.asarray(X))` on the host, with results of the given `jax.ShapeDtypeStruct`s."""
    return jax.pure_callback(fn, shapes, X, vmap_method="sequential")


@dataclasses.dataclass(frozen=True)
class FunctionProblem(Problem):
    """A problem from a Python function of one decision vector or of a whole batch.

    Args:
        fn: `fn(x)` with `x` `(n_var,)` returning `n_obj` numbers, or, with
            `vectorized=True`, `fn(X)` with `X` `(n, n_var)` returning `(n, n_obj)`. NumPy
            in, anything array-like out. A row that fails to evaluate can return NaN: it is
            then ranked last by every algorithm.
        n_var, n_obj: sizes.
        bounds: `(lb, ub)`, each `n_var` numbers; the unit cube when omitted.
        vectorized: whether `fn` takes the whole batch.

    The problem is hashed by `fn`'s identity, so reusing one `FunctionProblem` reuses
    `evo.run`'s compiled loop.
    """

    fn: Callable[..., Any] = dataclasses.field(default=None, kw_only=True, repr=False)
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = dataclasses.field(
        default=None, kw_only=True
    )
    vectorized: bool = dataclasses.field(default=False, kw_only=True)

    def __post_init__(self):
        check_positive_int("n_var", self.n_var)
        check_positive_int("n_obj", self.n_obj)
        if not callable(self.fn):
            raise ValueError(f"fn must be callable, got {self.fn!r}")
        if self.bounds is not None:
            lb, ub = as_bounds(*self.bounds)
            if lb.shape != (self.n_var,):
                raise ValueError(f"bounds have {lb.shape[0]} variables, n_var is {self.n_var}")
            object.__setattr__(self, "bounds", (tuple(lb.tolist()), tuple(ub.tolist())))

    @property
    def lb(self) -> np.ndarray:
        return np.zeros(self.n_var) if self.bounds is None else np.array(self.bounds[0])

    @property
    def ub(self) -> np.ndarray:
        return np.ones(self.n_var) if self.bounds is None else np.array(self.bounds[1])

    def _evaluate_on_host(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.vectorized:
            F = np.asarray(self.fn(X), dtype=float)
        else:
            F = np.array([np.asarray(self.fn(x), dtype=float).reshape(-1) for x in X])
        F = F.reshape(len(X), -1) if F.size == len(X) * self.n_obj else F
        if F.shape != (len(X), self.n_obj):
            raise ValueError(
                f"fn returned objectives of shape {F.shape}, expected ({len(X)}, {self.n_obj})"
            )
        return F

    def evaluate(self, X: jax.Array) -> jax.Array:
        shape = jax.ShapeDtypeStruct((X.shape[0], self.n_obj), X.dtype)
        return _host_call(lambda x: self._evaluate_on_host(x).astype(shape.dtype), X, shape)


@dataclasses.dataclass(frozen=True, eq=False)
class PymooProblem(Problem):
    """Any pymoo `Problem` (objectives and inequality constraints), evaluated by pymoo.

    `PymooProblem.wrap(get_problem("zdt1"))` takes sizes and bounds from the pymoo problem.
    Equality constraints are not supported (pymoo's `n_eq_constr` must be 0). Hashed by
    the identity of the wrapped problem.
    """

    problem: Any = dataclasses.field(default=None, kw_only=True, repr=False)

    @classmethod
    def wrap(cls, problem: Any) -> PymooProblem:
        if getattr(problem, "n_eq_constr", 0):
            raise ValueError("PymooProblem: equality constraints are not supported")
        if problem.xl is None or problem.xu is None:
            raise ValueError("PymooProblem: the pymoo problem must have bounds xl and xu")
        as_bounds(problem.xl, problem.xu)
        return cls(n_var=int(problem.n_var), n_obj=int(problem.n_obj), problem=problem)

    def __hash__(self) -> int:
        return id(self.problem)

    @property
    def lb(self) -> np.ndarray:
        return np.asarray(self.problem.xl, dtype=float)

    @property
    def ub(self) -> np.ndarray:
        return np.asarray(self.problem.xu, dtype=float)

    @property
    def n_constr(self) -> int:
        return int(self.problem.n_ieq_constr)

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        n = X.shape[0]
        shapes = (
            jax.ShapeDtypeStruct((n, self.n_obj), X.dtype),
            jax.ShapeDtypeStruct((n, self.n_constr), X.dtype),
        )

        def on_host(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            out = self.problem.evaluate(np.asarray(X, dtype=float), return_as_dictionary=True)
            F = np.asarray(out["F"], dtype=shapes[0].dtype).reshape(n, self.n_obj)
            G = out.get("G")
            G = np.zeros((n, 0)) if G is None or self.n_constr == 0 else G
            return F, np.asarray(G, dtype=shapes[1].dtype).reshape(n, self.n_constr)

        return _host_call(on_host, X, shapes)

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        """pymoo's own front sample (its size is pymoo's choice), or None."""
        try:
            front = self.problem.pareto_front()
        except Exception:  # some pymoo fronts need arguments only pymoo's caller knows
            return None
        return None if front is None else np.asarray(front, dtype=float)

