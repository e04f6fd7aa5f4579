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

from evo.checks import as_bounds, check_int, settings_class
from evo.problems.base import Problem


def _host_call(fn: Callable[[np.ndarray], Any], X: jax.Array, shapes: Any) -> Any:
    """`fn(np.asarray(X))` on the host, with results of the given `jax.ShapeDtypeStruct`s."""
    return jax.pure_callback(fn, shapes, X, vmap_method="sequential")


@settings_class(renamed={"bounds": "lb and ub"})
class FunctionProblem(Problem):
    """A problem from a Python function of one decision vector or of a whole batch.

    Args:
        fn: `fn(x)` with `x` `(n_var,)` returning `n_obj` numbers, or, with
            `vectorized=True`, `fn(X)` with `X` `(n, n_var)` returning `(n, n_obj)`. NumPy
            in, anything array-like out. A row that fails to evaluate can return NaN: it is
            then ranked last by every algorithm.
        n_var, n_obj: sizes.
        lb, ub: box bounds, each `n_var` numbers; the unit cube when omitted.
        vectorized: whether `fn` takes the whole batch.

    Problems of this kind compare and hash by identity, so reusing one `FunctionProblem`
    reuses `evo.run`'s compiled loop; a checkpoint still tells two of them apart by their
    functions (`evo.checkpoint.describe`).
    """

    fn: Callable[..., Any] = dataclasses.field(default=None, repr=False)
    lb: np.ndarray | None = None
    ub: np.ndarray | None = None
    vectorized: bool = False

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __post_init__(self):
        check_int("FunctionProblem: n_var", self.n_var)
        check_int("FunctionProblem: n_obj", self.n_obj)
        if not callable(self.fn):
            raise ValueError(f"FunctionProblem: fn must be callable, got {self.fn!r}")
        lb = np.zeros(self.n_var) if self.lb is None else self.lb
        ub = np.ones(self.n_var) if self.ub is None else self.ub
        lb, ub = as_bounds(lb, ub, "FunctionProblem")
        if lb.shape != (self.n_var,):
            raise ValueError(
                f"FunctionProblem: bounds have {lb.shape[0]} variables, n_var is {self.n_var}"
            )
        object.__setattr__(self, "lb", lb)
        object.__setattr__(self, "ub", ub)

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


@settings_class
class PymooProblem(Problem):
    """Any pymoo `Problem` (objectives and inequality constraints), evaluated by pymoo.

    `PymooProblem.wrap(get_problem("zdt1"))` takes sizes and bounds from the pymoo problem.
    Equality constraints are not supported (pymoo's `n_eq_constr` must be 0). Compared and
    hashed by identity; a checkpoint tells two of them apart by the wrapped problems'
    settings (`evo.checkpoint.describe`).
    """

    problem: Any = dataclasses.field(default=None, repr=False)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @classmethod
    def wrap(cls, problem: Any) -> PymooProblem:
        if getattr(problem, "n_eq_constr", 0):
            raise ValueError("PymooProblem: equality constraints are not supported")
        if problem.xl is None or problem.xu is None:
            raise ValueError("PymooProblem: the pymoo problem must have bounds xl and xu")
        as_bounds(problem.xl, problem.xu)
        return cls(n_var=int(problem.n_var), n_obj=int(problem.n_obj), problem=problem)

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

