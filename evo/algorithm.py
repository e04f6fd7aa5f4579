"""The algorithm contract: what `evo.run`, the command line, checkpoints and sharding rely on.

An algorithm is two things. Its settings object (a subclass of `Algorithm`) holds static
configuration only - sizes, rates, bounds - is frozen, keyword-only and hashed by
identity, so it is safe to close over under `jit`. Its state (a subclass of `State`, a
frozen dataclass registered as a pytree) holds everything that changes. Three pure,
jittable functions move between them:

    state = algorithm.init(key)              # key: a JAX PRNG key
    X, state = algorithm.ask(state)          # X (pop_size, n_var): rows to evaluate
    state = algorithm.tell(state, F, G)      # F (pop_size, n_obj), G (pop_size, n_constr) or None

Every state carries the PRNG key and `generation`, the number of tells so far; the same
key gives the same run, bit for bit. Shapes are static: `ask` always returns `pop_size`
rows, and objectives or constraint values of any other shape raise ValueError while
tracing. Constraint values are feasible when `G <= 0`; an algorithm that cannot use
them says so through `check_constraints`, which `evo.run` calls before it compiles.

What the run loop reads of a state goes through the settings object, never through the
state's own fields:

- `population(state)`: the rows the algorithm holds - `X`, `F`, their total constraint
  violation (0 when feasible, inf for non-finite objectives) and `held`, which marks the
  rows that are real (not an empty buffer slot, not an inactive row of a restarted
  CMA-ES); `evo.run`'s `Result` keeps only those.
- `n_evals(state)`: the evaluations told so far, the rows that counted.
- `row_sizes` and `rows_needed(state)`: an algorithm whose `tell` reads only the leading
  rows of an ask (CMA-ES with restarts: the first `lam`) lists the static, ascending row
  counts that may need evaluating, the last being every row (default `(pop_size,)`), and
  says, of the state `ask` returned, how many leading rows `tell` will read (int32 `()`).
  `evo.run` evaluates the smallest listed count that covers them and fills the rest of
  `F` with inf and of `G` with 0, which `tell` must ignore.
- `reevaluate(state, F, G)` with `takes_reevaluation`: the state after the rows it holds
  got fresh values (`evo.run`'s `reevaluate_every`, for noisy problems); optional.

Families put what they share in a base beside their algorithms: `evo.genetic` for the
evolutionary multi-objective algorithms, `evo.bo.base` for Bayesian optimisation, and
`_CMABase` in `evo.cmaes`. `evo.registry` names every algorithm once, and the command
line, the README's table and the tests read it from there.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import as_bounds, check_int, frozen_setattr, settings_class
from evo.sorting import constraint_violation, effective_violation

S = TypeVar("S", bound="State")


def state_class(cls: type[S]) -> type[S]:
    """Decorator: a frozen dataclass whose fields are all pytree children."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = [field.name for field in dataclasses.fields(cls)]
    return jax.tree_util.register_dataclass(cls, data_fields=fields, meta_fields=[])


@state_class
class State:
    """What every algorithm state holds; families and algorithms add their own fields."""

    key: jax.Array  # PRNG key for the next step
    generation: jax.Array  # int32 (), tells so far

    renamed: ClassVar[dict[str, str]] = {"_replace": "replace"}
    """Old names of fields or methods -> the current ones, for a clear AttributeError."""

    def replace(self: S, **changes: Any) -> S:
        """A copy with `changes` applied (the state is immutable)."""
        return dataclasses.replace(self, **changes)

    def __getattr__(self, name: str) -> Any:
        # Called only when `name` is not found: say what it is called now, if it was renamed.
        if name in type(self).renamed:
            raise AttributeError(
                f"{type(self).__name__}.{name} is now {type(self).__name__}."
                f"{type(self).renamed[name]}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class Population(NamedTuple):
    """The rows an algorithm holds (`Algorithm.population`), all with a leading `(n,)` axis."""

    X: jax.Array  # (n, n_var)
    F: jax.Array  # (n, n_obj)
    violation: jax.Array  # (n,) total constraint violation; inf for non-finite objectives
    held: jax.Array  # (n,) bool: a real row, not an empty slot or an inactive row


@settings_class
class Algorithm(abc.ABC):
    """Base of every algorithm: box bounds, the number of objectives, the contract.

    Args:
        lb, ub: box bounds `(n_var,)`, finite, lb <= ub.
        n_obj: number of objectives.

    Subclasses also have `pop_size`, the number of rows each `ask` returns.
    """

    lb: np.ndarray
    ub: np.ndarray
    n_obj: int

    single_objective: ClassVar[bool] = False
    takes_constraints: ClassVar[bool] = True
    takes_reevaluation: ClassVar[bool] = False
    """Whether `reevaluate` can give the population fresh objective values."""
    paper: ClassVar[str] = ""
    """Where the algorithm was published, e.g. "Deb et al. 2002" (the README's table)."""
    reference: ClassVar[str] = ""
    """The implementation whose defaults it follows, e.g. "pymoo NSGA2"."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        lb, ub = as_bounds(self.lb, self.ub, name)
        check_int(f"{name}: n_obj", self.n_obj)
        if self.single_objective and self.n_obj != 1:
            raise ValueError(f"{name} is single-objective, n_obj must be 1, got {self.n_obj!r}")
        frozen_setattr(self, lb=lb, ub=ub)

    @property
    def n_var(self) -> int:
        return self.lb.shape[0]

    @classmethod
    def for_problem(cls, problem: Any, **settings: Any) -> Algorithm:
        """This algorithm configured for `problem` (its objectives and bounds) and `settings`,
        e.g. `NSGA2.for_problem(ZDT1(), pop_size=200)`."""
        return cls(n_obj=problem.n_obj, lb=problem.lb, ub=problem.ub, **settings)

    @abc.abstractmethod
    def init(self, key: jax.Array) -> State:
        """The state before the first ask."""

    @abc.abstractmethod
    def ask(self, state: State) -> tuple[jax.Array, State]:
        """Rows to evaluate `(pop_size, n_var)`, and the state that remembers them."""

    @abc.abstractmethod
    def tell(self, state: State, F: jax.Array, G: jax.Array | None = None) -> State:
        """The state after learning objectives `F` `(pop_size, n_obj)` and constraint values
        `G` `(pop_size, n_constr)` (feasible when <= 0; None: unconstrained) of the rows of
        the last ask."""

    @abc.abstractmethod
    def population(self, state: State) -> Population:
        """The rows `state` holds, with their violation and which of them are real."""

    def n_evals(self, state: State) -> jax.Array:
        """Evaluations told so far, int32 `()` (it wraps past 2^31; `evo.run`'s history
        counts in int64)."""
        return state.generation * self.pop_size

    @property
    def row_sizes(self) -> tuple[int, ...]:
        """The numbers of leading rows of an ask that may need evaluating, ascending, the last
        being every row; one count (the default, `(pop_size,)`): every row, always."""
        return (self.pop_size,)

    def rows_needed(self, state: State) -> jax.Array:
        """How many leading rows of the last ask `tell` reads, int32 `()`, for `state` as
        `ask` returned it; at most `row_sizes[-1]`."""
        return jnp.asarray(self.pop_size, jnp.int32)

    def reevaluate(self, state: State, F: jax.Array, G: jax.Array | None = None) -> State:
        """The state after the rows it holds (`population(state).X`, every slot) got fresh
        objectives `F` and constraint values `G` (`evo.run`'s `reevaluate_every`, for noisy
        problems such as robot episodes); only algorithms with `takes_reevaluation`."""
        raise NotImplementedError(f"{type(self).__name__} cannot re-evaluate its population")

    def check_constraints(self, n_constr: int) -> None:
        """Raise ValueError unless `tell` can take `n_constr` constraint values per row."""
        if n_constr and not self.takes_constraints:
            raise ValueError(
                f"{type(self).__name__} does not handle constraints, but the problem has "
                f"{n_constr}; use an algorithm that does (e.g. NSGA2, NSGA3, MOEAD, HypE, "
                "BayesOpt) or move them into the objectives as penalties"
            )


def check_objectives(F: jax.Array, n: int, n_obj: int) -> None:
    """Raise ValueError unless `F` has shape `(n, n_obj)`; runs once at trace time under jit."""
    if F.shape != (n, n_obj):
        raise ValueError(
            f"objectives must have shape (n, n_obj) = ({n}, {n_obj}), got {tuple(F.shape)}"
        )


def check_unconstrained(name: str, G: jax.Array | None) -> None:
    """Raise ValueError when an algorithm that takes no constraints is given some."""
    if G is not None and jnp.shape(G)[-1]:
        raise ValueError(f"{name} does not handle constraints: tell(state, F) only")


def violation_of(F: jax.Array, G: jax.Array | None) -> jax.Array:
    """Checked total constraint violation `(n,)` of constraint values `G` `(n, c)` (None:
    unconstrained); rows of `F` `(n, m)` holding NaN or inf count as infinitely infeasible."""
    if G is not None and (G.ndim != 2 or G.shape[0] != F.shape[0]):
        raise ValueError(
            f"constraint values must have shape (n, n_constr) with n = {F.shape[0]}, "
            f"got {tuple(G.shape)}"
        )
    violation = None if G is None else constraint_violation(G.astype(F.dtype))
    return effective_violation(F, violation)
