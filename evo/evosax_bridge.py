"""Any evosax 0.3 strategy behind evo's `init / ask / tell`, so it runs through `evo.run`.

evosax (https://github.com/RobertTLange/evosax) is imported when an `EvosaxAlgorithm` is
built, not with `evo`; install it with `pip install evosax`.

Bounds are mapped by clipping: the points evosax asks for are clipped into `[lb, ub]`, and
the clipped points (the ones evaluated) are what evosax is told. Distribution-based
strategies (CMA_ES, SNES, Open_ES, PGPE, xNES, ...) start at `mean0`, by default the
centre of the box, with their own default spread (`std_init` in most; override it with
`params={"std_init": ...}`). Population-based strategies (DifferentialEvolution, PSO,
SimpleGA, ...) start from a population drawn uniformly in the box, with fitness +inf, so
the first generation replaces it. NaN fitness is passed on as +inf.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from evo.algorithm import (
    Algorithm,
    Population,
    State,
    check_objectives,
    check_unconstrained,
    state_class,
)
from evo.checks import check_int, frozen_setattr, settings_class
from evo.sorting import effective_violation

# Short names used in the literature for evosax classes whose names are longer.
ALIASES = {"de": "DifferentialEvolution", "ga": "SimpleGA"}


@state_class
class EvosaxState(State):
    inner: Any  # the evosax strategy's own state
    X: jax.Array  # (pop_size, n_var) population of the last tell (clipped into the box)
    F: jax.Array  # (pop_size, 1) its fitness; +inf before the first tell
    offspring: jax.Array  # (pop_size, n_var) the points handed out by the last ask
    best_x: jax.Array  # (n_var,) best point evaluated so far
    best_f: jax.Array  # () its fitness


def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def strategy_class(name: str) -> type:
    """The evosax class called `name` (case, `_` and `-` ignored; "DE" and "GA" accepted).

    Raises ValueError listing the known names when there is none.
    """
    algorithms = importlib.import_module("evosax.algorithms").algorithms
    classes = {_normalise(known): cls for known, cls in algorithms.items()}
    classes.update({alias: algorithms[target] for alias, target in ALIASES.items()})
    try:
        return classes[_normalise(name)]
    except KeyError:
        known = ", ".join(sorted(algorithms, key=str.lower))
        raise ValueError(
            f"unknown evosax strategy {name!r}; known strategies: {known} "
            f"(aliases: {', '.join(sorted(ALIASES))})"
        ) from None


@settings_class
class EvosaxAlgorithm(Algorithm):
    """Any evosax 0.3 strategy (OpenES, SNES, PGPE, xNES, DE, PSO, CMA_ES, ...) by name or
    instance, single objective, through the same `init / ask / tell` and `evo.run`.

    Args:
        strategy: an evosax class name such as "CMA_ES" (the default), "SNES", "Open_ES",
            "PGPE", "xNES", "DE", "PSO", or an evosax algorithm instance (its
            `population_size` and number of dimensions must then agree with `pop_size` and
            the bounds).
        pop_size: population size; default the instance's when `strategy` is one, else 16.
        lb, ub: box bounds `(n_var,)`; asked points are clipped into them.
        params: evosax parameters: a `Params` object, or a dict of fields to replace in the
            strategy's `default_params`; default the defaults.
        mean0: initial mean `(n_var,)` of distribution-based strategies; default the centre
            of the box.
        strategy_kwargs: extra keyword arguments for the evosax constructor when `strategy`
            is a name (e.g. `optimizer`).
        n_obj: must be 1.

    An instance whose solution is a pytree works too: rows of `X` are its flattened form.
    """

    paper = "the strategy's own (evosax's docs)"
    reference = "evosax 0.3"

    strategy: Any = "CMA_ES"
    pop_size: int | None = None
    params: Any = None
    mean0: np.ndarray | None = None
    strategy_kwargs: dict | None = None
    n_obj: int = 1

    single_objective: ClassVar[bool] = True
    takes_constraints: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        lb, ub = self.lb, self.ub
        n = lb.shape[0]
        strategy, pop_size = self.strategy, self.pop_size
        if isinstance(strategy, str):
            pop_size = 16 if pop_size is None else pop_size
            pop_size = check_int("EvosaxAlgorithm: pop_size", pop_size, 2)
            cls = strategy_class(strategy)
            try:
                strategy = cls(
                    population_size=pop_size, solution=jnp.zeros(n),
                    **(self.strategy_kwargs or {}),
                )
            except AssertionError as error:  # evosax checks its arguments with assert
                raise ValueError(f"EvosaxAlgorithm: {cls.__name__}: {error}") from None
        else:
            base = importlib.import_module("evosax.algorithms.base")
            if not isinstance(strategy, base.EvolutionaryAlgorithm):
                raise ValueError(
                    "EvosaxAlgorithm: strategy must be an evosax strategy name or instance, "
                    f"got {type(strategy).__name__}"
                )
            if self.strategy_kwargs:
                raise ValueError("EvosaxAlgorithm: strategy_kwargs only apply to a strategy name")
            pop_size = strategy.population_size if pop_size is None else pop_size
            pop_size = check_int("EvosaxAlgorithm: pop_size", pop_size, 2)
            if pop_size != strategy.population_size or strategy.num_dims != n:
                raise ValueError(
                    f"EvosaxAlgorithm: the strategy has population_size="
                    f"{strategy.population_size} and {strategy.num_dims} dimensions, but "
                    f"pop_size={pop_size} and the bounds have {n} variables"
                )
        params = self.params
        if params is None or isinstance(params, dict):
            defaults = strategy.default_params
            try:
                params = defaults.replace(**(params or {}))
            except TypeError:
                raise ValueError(
                    f"EvosaxAlgorithm: unknown params {sorted(params)} for "
                    f"{type(strategy).__name__}; its params are "
                    f"{sorted(vars(defaults))}"
                ) from None
        mean0 = (lb + ub) / 2 if self.mean0 is None else np.asarray(self.mean0, dtype=float)
        if mean0.shape != (n,) or not np.all(np.isfinite(mean0)):
            raise ValueError(
                f"EvosaxAlgorithm: mean0 must be {n} finite numbers, got shape {mean0.shape}"
            )
        frozen_setattr(self, strategy=strategy, pop_size=pop_size, params=params, mean0=mean0)

    @property
    def _distribution_based(self) -> bool:
        base = importlib.import_module("evosax.algorithms.distribution_based.base")
        return isinstance(self.strategy, base.DistributionBasedAlgorithm)

    def _ravel(self, population: Any) -> jax.Array:
        """Flat rows `(pop_size, n_var)` of an evosax population pytree."""
        return jax.vmap(lambda solution: ravel_pytree(solution)[0])(population)

    def _unravel(self, X: jax.Array) -> Any:
        unravel = ravel_pytree(self.strategy.solution)[1]
        return jax.vmap(unravel)(X)

    def init(self, key: jax.Array) -> EvosaxState:
        dtype = jnp.result_type(float)
        key, init_key, sample_key = jax.random.split(key, 3)
        lb, ub = jnp.asarray(self.lb, dtype), jnp.asarray(self.ub, dtype)
        shape = (self.pop_size, self.n_var)
        if self._distribution_based:
            mean = jnp.asarray(self.mean0, dtype)
            inner = self.strategy.init(init_key, ravel_pytree(self.strategy.solution)[1](mean),
                                       self.params)
            X = jnp.broadcast_to(mean, shape)
        else:
            X = jax.random.uniform(sample_key, shape, dtype, lb, ub)
            inner = self.strategy.init(
                init_key, self._unravel(X), jnp.full(self.pop_size, jnp.inf, dtype), self.params
            )
        return EvosaxState(
            key=key, generation=jnp.zeros((), jnp.int32), inner=inner, X=X,
            F=jnp.full((self.pop_size, 1), jnp.inf, dtype), offspring=X, best_x=X[0],
            best_f=jnp.full((), jnp.inf, dtype),
        )

    def ask(self, state: EvosaxState) -> tuple[jax.Array, EvosaxState]:
        """The strategy's next population, clipped into the box: `(pop_size, n_var)`."""
        key, ask_key = jax.random.split(state.key)
        population, inner = self.strategy.ask(ask_key, state.inner, self.params)
        dtype = state.X.dtype
        X = jnp.clip(
            self._ravel(population).astype(dtype),
            jnp.asarray(self.lb, dtype), jnp.asarray(self.ub, dtype),
        )
        return X, state.replace(key=key, inner=inner, offspring=X)

    def tell(
        self, state: EvosaxState, F: jax.Array, G: jax.Array | None = None
    ) -> EvosaxState:
        """Update from the fitness `F` `(pop_size, 1)` or `(pop_size,)` of the last ask;
        there are no constraints (`G` must be None or have no columns)."""
        check_unconstrained("EvosaxAlgorithm", G)
        F = jnp.asarray(F)
        if F.ndim == 1:
            F = F[:, None]
        check_objectives(F, self.pop_size, 1)
        f = F[:, 0].astype(state.F.dtype)
        key, tell_key = jax.random.split(state.key)
        fitness = jnp.where(jnp.isnan(f), jnp.inf, f)
        inner, _ = self.strategy.tell(
            tell_key, self._unravel(state.offspring), fitness, state.inner, self.params
        )
        i = jnp.argmin(fitness)
        improved = fitness[i] < state.best_f
        return state.replace(
            key=key, inner=inner, X=state.offspring, F=F.astype(state.F.dtype),
            generation=state.generation + 1,
            best_x=jnp.where(improved, state.offspring[i], state.best_x),
            best_f=jnp.where(improved, fitness[i], state.best_f),
        )

    def population(self, state: EvosaxState) -> Population:
        return Population(
            state.X, state.F, effective_violation(state.F), jnp.ones(self.pop_size, bool)
        )
