"""The problem interface shared by every family in `evo.problems`."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import settings_class

EVALUATIONS = (
    "evaluate_constrained_with_state",
    "evaluate_with_state",
    "evaluate_constrained",
    "evaluate",
)
"""The ways a problem can define its evaluation, most general first."""


@settings_class(eq=True)
class Problem:
    """A batched minimisation problem over a box.

    Subclasses are frozen, keyword-only dataclasses whose fields are static configuration
    (ints, floats, strings), so a problem is hashable and can be closed over by jitted code.

    A subclass defines its evaluation by overriding exactly the one method that fits it;
    the base derives the other three from that one:

    - `evaluate(X) -> F`: unconstrained;
    - `evaluate_constrained(X) -> (F, G)`: constrained (and `n_constr`);
    - `evaluate_with_state(state, X) -> (F, state)` with `init_state`: stateful, e.g. noisy
      evaluations or simulator episodes drawn from a key in the state;
    - `evaluate_constrained_with_state(state, X) -> (F, G, state)`: both.

    `X` is `(n, n_var)`, `F` `(n, n_obj)`, `G` `(n, n_constr)` (feasible when every value
    is <= 0). A class that overrides none of them raises TypeError when it is built. The
    stateless forms of a stateful problem evaluate from `init_state(jax.random.key(0))`.

    Attributes:
        n_var: number of decision variables.
        n_obj: number of objectives.
    """

    n_var: int
    n_obj: int

    defines: ClassVar[str | None] = None
    """Which of `EVALUATIONS` the class defines (the most general one it overrides)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.defines = next(
            (name for name in EVALUATIONS if getattr(cls, name) is not getattr(Problem, name)),
            None,
        )

    def __new__(cls, *args: Any, **kwargs: Any) -> Problem:
        if cls.defines is None:
            raise TypeError(
                f"{cls.__name__} defines no evaluation: override evaluate(X) (unconstrained), "
                "evaluate_constrained(X) (with n_constr), or their stateful forms "
                "evaluate_with_state / evaluate_constrained_with_state (with init_state)"
            )
        return super().__new__(cls)

    @property
    def lb(self) -> np.ndarray:
        """Lower bounds, shape `(n_var,)`."""
        return np.zeros(self.n_var)

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds, shape `(n_var,)`."""
        return np.ones(self.n_var)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """What each objective column is, `(n_obj,)`: `f1`, `f2`, ... unless a family knows
        better; the command line's CSV headers and plot axes use them."""
        return tuple(f"f{j + 1}" for j in range(self.n_obj))

    @property
    def n_constr(self) -> int:
        """Number of constraint values per row; 0 when unconstrained."""
        return 0

    @property
    def ref_point(self) -> np.ndarray | None:
        """A hypervolume reference point `(n_obj,)`: beyond the nadir of the known front by a
        tenth of its magnitude (at least 1e-4 per objective), or None without a front."""
        front = self.pareto_front(1000)
        if front is None or len(front) == 0:
            return None
        nadir = np.max(front, axis=0)
        return nadir + 0.1 * np.maximum(np.abs(nadir), 1e-3)

    def init_state(self, key: jax.Array) -> Any:
        """The state a stateful problem starts from; None (a stateless problem) by default.

        A stateful problem's objectives depend on more than `X`: a random key (noisy
        evaluations, fresh simulator episodes) or statistics gathered across generations.
        `evo.run` starts the state here and carries it from one generation to the next.
        """
        return None

    def evaluate_constrained_with_state(
        self, state: Any, X: jax.Array
    ) -> tuple[jax.Array, jax.Array, Any]:
        """Objectives `(n, n_obj)`, constraint values `(n, n_constr)` and the next state, for
        `X` `(n, n_var)` given `state`. Pure and jittable; `evo.run` calls this one."""
        if self.defines == "evaluate_with_state":
            F, state = self.evaluate_with_state(state, X)
            return F, jnp.zeros((*F.shape[:-1], 0), F.dtype), state
        if self.defines == "evaluate_constrained":
            return (*self.evaluate_constrained(X), state)
        F = self.evaluate(X)
        return F, jnp.zeros((*F.shape[:-1], 0), F.dtype), state

    def evaluate_with_state(self, state: Any, X: jax.Array) -> tuple[jax.Array, Any]:
        """Objectives `(n, n_obj)` of `X` `(n, n_var)` given `state`, and the next state."""
        F, _, state = self.evaluate_constrained_with_state(state, X)
        return F, state

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objectives `(n, n_obj)` and constraint values `G` `(n, n_constr)` of `X`."""
        F, G, _ = self.evaluate_constrained_with_state(self._fresh_state(), X)
        return F, G

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objective values `(n, n_obj)` of a batch of decision vectors `X` `(n, n_var)`."""
        return self.evaluate_constrained_with_state(self._fresh_state(), X)[0]

    def _fresh_state(self) -> Any:
        return None if self.defines in ("evaluate", "evaluate_constrained") else (
            self.init_state(jax.random.key(0))
        )

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        """About `n_points` points `(k, n_obj)` on the true Pareto front, or None if unknown.

        Deterministic: the same `n_points` gives the same array.
        """
        return None
