"""Constrained DTLZ problems (Jain & Deb, 2014): DTLZ objectives plus constraints `G <= 0`.

C1-DTLZ1 cuts away the region above a hyperplane, so only a narrow band next to the
unconstrained front is feasible; C2-DTLZ2 keeps only the parts of the DTLZ2 front close to
each axis point and to the centre. Constraint values follow pymoo's sign convention.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import settings_class
from evo.problems.dtlz import DTLZ1, DTLZ2


@settings_class(eq=True)
class C1DTLZ1(DTLZ1):
    """DTLZ1 with `1 - f_m / 0.6 - sum_{i<m} f_i / 0.5 >= 0`; the front is DTLZ1's."""

    @property
    def n_constr(self) -> int:
        return 1

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objectives `(n, n_obj)` and the constraint `(n, 1)`."""
        F = super().evaluate(X)
        G = F[..., -1] / 0.6 + jnp.sum(F[..., :-1], axis=-1) / 0.5 - 1.0
        return F, G[..., None]

    def evaluate(self, X: jax.Array) -> jax.Array:
        return self.evaluate_constrained(X)[0]


def c2_constraint(F, radius: float, xp=jnp):
    """C2-DTLZ2's constraint `(n,)`: negative within `radius` of an axis point `e_i` or of
    the centre line point `(1, ..., 1) / sqrt(m)`. `F` `(n, m)`; `xp` is jnp or np."""
    squared = xp.sum(F**2, axis=-1, keepdims=True)
    near_axis = xp.min((F - 1.0) ** 2 + squared - F**2, axis=-1) - radius**2
    near_centre = xp.sum((F - 1.0 / np.sqrt(F.shape[-1])) ** 2, axis=-1) - radius**2
    return xp.minimum(near_axis, near_centre)


@settings_class(eq=True)
class C2DTLZ2(DTLZ2):
    """DTLZ2 where only regions near the axis points and the centre are feasible.

    `radius` defaults to 0.2 for 2 objectives, 0.4 for 3 and 0.5 beyond (as pymoo).
    """

    radius: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.radius is None:
            object.__setattr__(self, "radius", {2: 0.2, 3: 0.4}.get(self.n_obj, 0.5))
        if not self.radius > 0:
            raise ValueError(f"C2DTLZ2 needs radius > 0, got {self.radius}")

    @property
    def n_constr(self) -> int:
        return 1

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objectives `(n, n_obj)` and the constraint `(n, 1)`."""
        F = super().evaluate(X)
        return F, c2_constraint(F, self.radius)[..., None]

    def evaluate(self, X: jax.Array) -> jax.Array:
        return self.evaluate_constrained(X)[0]

    def pareto_front(self, n_points: int) -> np.ndarray:
        """The feasible part `(k, n_obj)` of a DTLZ2 front sample about 4x as dense."""
        F = super().pareto_front(4 * n_points)
        return F[c2_constraint(F, self.radius, np) <= 0]
