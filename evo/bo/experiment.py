"""A host-side loop for expensive experiments evaluated outside JAX (a lab, a simulator).

`Experiment` wraps a `BayesOpt` and keeps every suggested point and its result in NumPy.
Points are suggested in any number, each with an integer id (0, 1, 2, ... in the order
handed out); results are observed in any order and any subset, while the others stay
pending. The initial Latin-hypercube design is handed out first; every later suggestion is
a proposal conditioned on all outstanding points (`BayesOpt.ask_with_pending`).

A proposal is compiled for a buffer of `capacity` observation slots. With `grow=True` that
is the smallest power of two that holds the observations (`evo.bo.buffers`), so an
iteration costs what the observations held cost, not what the largest buffer would; each
size compiles once, and the compiled functions are shared by every `Experiment` of the
same optimizer in the process. Pending points fill a second buffer, also sized to the
next power of two (at least `MIN_PENDING`).

With `precompile=True` (the default) the proposals compile on a background thread before
they are needed: the first one's while the design is out being evaluated, the next
buffer size's once the observations fill `evo.bo.buffers.PRECOMPILE_AT` of the current
one. A proposal then waits only for what is left of its compilation; the program is the
same, and so are the points.

The rows a proposal models are the observations in id order, so the same set of
observations gives the same proposal whatever order they arrived in. Past the optimizer's
`capacity`, the GP models only `capacity` of them: finite ones first, then for one
objective the feasible best (infeasible ones by least violation), for several the newest.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.bo.bo import BayesOpt
from evo.bo.buffers import (
    Buffer,
    buffer_capacity,
    compiled_ask,
    compiling_ask,
    next_power_of_two,
    padded_buffer,
    size_to_compile_next,
)
from evo.bo.gp import GPParams
from evo.checkpoint import CheckpointError, describe, load_checkpoint, save_checkpoint
from evo.checks import check_int
from evo.run import run_description

MIN_PENDING = 4
"""The smallest pending buffer: a lab of a few workers then compiles one size."""
RECORDS = ("X", "F", "G", "observed")
"""What a checkpoint's history holds: one row per suggested point, in id order."""


class Points(NamedTuple):
    """Suggested points and their ids."""

    ids: np.ndarray  # (n,) int64
    X: np.ndarray  # (n, n_var)


class ExperimentState(NamedTuple):
    """What an `Experiment` carries between proposals besides its records."""

    key: jax.Array  # PRNG key of the next proposal
    params: GPParams  # the last fit's log hyperparameters, batched (n_models,)
    design: jax.Array  # (n_design, n_var) the initial Latin-hypercube design


class Experiment:
    """Bayesian optimisation of an experiment that runs outside JAX, driven from the host.

    ```python
    experiment = Experiment(BayesOpt(n_obj=1, lb=lb, ub=ub), jax.random.key(0))
    ids, X = experiment.suggest(4)           # (4,), (4, n_var)
    experiment.observe(ids[2:3], F_2)        # any subset, any order; NaN: failed
    ids, X = experiment.suggest(1)           # distinct from the 3 still pending
    experiment.save("lab.npz")               # later: Experiment.load("lab.npz", optimizer)
    ```

    Args:
        optimizer: a `BayesOpt` (one or several objectives, constraints, any acquisition).
            `Turbo` is not supported: its trust region learns batch by batch in `tell`.
            Its `q` is the number of points one proposal chooses; past the design,
            `suggest(n)` runs `ceil(n / q)` proposals and keeps `n` points, so build it
            with `q=1` for suggestions one at a time. Its `capacity` bounds the
            observations the GP models (see `evo.bo.experiment` for which are kept).
        key: PRNG key of the design and the proposals.
        problem: anything that identifies what is evaluated (a name, settings, the
            evaluating function); a checkpoint of another problem then refuses to load.
        grow: size the proposal's buffer to the observations held (see `evo.bo.experiment`);
            False keeps the optimizer's `capacity` (one compilation, every iteration at
            the largest cost).
        compiler_options: XLA options for the proposals' `jax.jit`, over
            `evo.bo.buffers.PROPOSAL_COMPILER_OPTIONS`.
        precompile: compile proposals on a background thread before they are needed
            (see `evo.bo.experiment`); False compiles each when it is first needed.

    Non-finite results (a NaN or inf objective or constraint value, e.g. a failed run) are
    stored and shown in `F` but ignored by the GP. The same key, suggestions and
    observations give the same points, in this process or after `save` and `load` in
    another. Not thread-safe: call it from one thread.
    """

    def __init__(
        self,
        optimizer: BayesOpt,
        key: jax.Array,
        *,
        problem: Any = None,
        grow: bool = True,
        compiler_options: dict[str, Any] | None = None,
        precompile: bool = True,
    ) -> None:
        if not isinstance(optimizer, BayesOpt):
            raise TypeError(
                f"Experiment drives a BayesOpt, got {type(optimizer).__name__}; Turbo's trust "
                "region learns batch by batch in tell and cannot hold pending points"
            )
        if not jax.dtypes.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)
        self.optimizer = optimizer
        self.problem = problem
        self.grow = bool(grow)
        self.compiler_options = tuple(sorted((compiler_options or {}).items()))
        self.precompile = bool(precompile)
        initial = optimizer.init(key)
        self._state = ExperimentState(initial.key, initial.params, initial.design)
        n_var, n_obj, n_constr = optimizer.n_var, optimizer.n_obj, optimizer.n_constr
        self._X = np.zeros((0, n_var))
        self._F = np.zeros((0, n_obj))
        self._G = np.zeros((0, n_constr))
        self._observed = np.zeros((0,), bool)

    # ------------------------------------------------------------------ results

    @property
    def ids(self) -> np.ndarray:
        """Ids of the observed points `(n,)`, ascending."""
        return np.flatnonzero(self._observed)

    @property
    def X(self) -> np.ndarray:
        """Observed points `(n, n_var)`, in id order."""
        return self._X[self._observed]

    @property
    def F(self) -> np.ndarray:
        """Their objectives `(n, n_obj)`, as observed (NaN for a failed evaluation)."""
        return self._F[self._observed]

    @property
    def G(self) -> np.ndarray:
        """Their constraint values `(n, n_constr)` (feasible when <= 0)."""
        return self._G[self._observed]

    @property
    def pending(self) -> Points:
        """The points suggested but not yet observed."""
        ids = np.flatnonzero(~self._observed)
        return Points(ids, self._X[ids])

    @property
    def n_suggested(self) -> int:
        """Points handed out so far, observed or pending."""
        return len(self._observed)

    @property
    def state(self) -> ExperimentState:
        """The key, GP parameters and design the next proposal starts from."""
        return self._state

    @property
    def capacity(self) -> int:
        """Observation slots of the next proposal's buffer."""
        return self._capacity_for(int(np.sum(self._observed)))

    def _capacity_for(self, n_observed: int) -> int:
        if not self.grow:
            return self.optimizer.capacity
        return buffer_capacity(self.optimizer, n_observed)

    def buffer(self, capacity: int | None = None) -> Buffer:
        """The observations a proposal at `capacity` slots (default: the next one's) models,
        in id order, padded; past `capacity` observations, those the module docstring says."""
        capacity = self.capacity if capacity is None else capacity
        observed = np.flatnonzero(self._observed)
        F, G = self._F[observed], self._G[observed]
        # as BayesOpt.tell: a row with any non-finite value is infinitely infeasible
        finite = np.all(np.isfinite(F), 1) & np.all(np.isfinite(G), 1)
        violation = np.where(finite, np.sum(np.maximum(G, 0.0), 1), np.inf)
        if len(observed) > capacity:
            kept = self._kept(F, finite, violation, capacity)
            observed, F, G, violation = observed[kept], F[kept], G[kept], violation[kept]
        return padded_buffer(self._X[observed], F, G, violation, capacity)

    def pending_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The pending points as the next proposal takes them: rows `(p, n_var)` and a mask
        `(p,)`, `p` the next power of two that holds them (at least `MIN_PENDING`)."""
        ids, X = self.pending
        size = next_power_of_two(max(len(ids), MIN_PENDING))
        rows = np.zeros((size, self.optimizer.n_var), jnp.result_type(float))
        rows[: len(ids)] = X
        return rows, np.arange(size) < len(ids)

    # ------------------------------------------------------------------ the loop

    def suggest(self, n: int | None = None) -> Points:
        """`n` new points (default `q`) to evaluate, `(n,)` ids and `(n, n_var)` points:
        what is left of the initial design, then proposals that treat every outstanding
        point as pending."""
        n = self.optimizer.q if n is None else check_int("Experiment.suggest: n", n)
        first = self.n_suggested
        design = np.asarray(self._state.design)[first : first + n]
        self._append(design)
        if len(design) and self.precompile:
            self._program(self._capacity_for(self.optimizer.n_design), MIN_PENDING)
        while self.n_suggested < first + n:
            self._append(self._propose()[: first + n - self.n_suggested])
        ids = np.arange(first, first + n)
        return Points(ids, self._X[ids])

    def observe(self, ids: Any, F: Any, G: Any = None) -> None:
        """Record the results of suggested points: `ids` `(n,)` in any order, objectives
        `F` `(n, n_obj)` and, with constraints, `G` `(n, n_constr)`. A NaN or inf marks a
        failed evaluation. Each id is observed once; nothing is recorded when a check
        fails."""
        opt = self.optimizer
        ids = self._checked_ids(ids)
        F = np.asarray(F, dtype=float)
        if F.shape != (len(ids), opt.n_obj):
            raise ValueError(
                f"objectives must have shape (len(ids), n_obj) = ({len(ids)}, {opt.n_obj}), "
                f"got {F.shape}"
            )
        if G is None:
            if opt.n_constr:
                raise ValueError(f"the optimizer has n_constr={opt.n_constr}: observe needs G")
            G = np.zeros((len(ids), 0))
        G = np.asarray(G, dtype=float)
        if G.shape != (len(ids), opt.n_constr):
            raise ValueError(
                f"constraint values must have shape (len(ids), n_constr) = ({len(ids)}, "
                f"{opt.n_constr}), got {G.shape}"
            )
        self._F[ids], self._G[ids], self._observed[ids] = F, G, True

    # ------------------------------------------------------------------ checkpoints

    def save(self, path: str | os.PathLike) -> None:
        """Write the experiment to `path` atomically (`evo.checkpoint.save_checkpoint`),
        pending points included."""
        records = dict(zip(RECORDS, (self._X, self._F, self._G, self._observed)))
        save_checkpoint(path, self._state, records, self.n_suggested, self._description())

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        optimizer: BayesOpt,
        *,
        problem: Any = None,
        grow: bool = True,
        compiler_options: dict[str, Any] | None = None,
        precompile: bool = True,
    ) -> Experiment:
        """The experiment saved at `path`, continuing exactly where it was saved.

        Raises `evo.checkpoint.CheckpointError`, leaving the file as it is, when it cannot
        be read or belongs to another experiment (another optimizer's settings, `problem`,
        `grow` or `compiler_options`); the message lists what differs.
        """
        experiment = cls(optimizer, jax.random.key(0), problem=problem, grow=grow,
                         compiler_options=compiler_options, precompile=precompile)
        saved = load_checkpoint(path, experiment._state, experiment._description())
        records = [saved.history.get(name) for name in RECORDS]
        expected = [experiment._X, experiment._F, experiment._G, experiment._observed]
        if any(
            r is None or r.shape[1:] != e.shape[1:] or len(r) != saved.generation
            for r, e in zip(records, expected)
        ):
            raise CheckpointError(
                f"checkpoint {path} holds no records of {saved.generation} suggested points "
                f"of this experiment ({', '.join(RECORDS)})"
            )
        experiment._state = saved.state
        experiment._X, experiment._F, experiment._G = (np.array(r, float) for r in records[:3])
        experiment._observed = np.array(records[3], bool)
        return experiment

    # ------------------------------------------------------------------ internals

    def _description(self) -> dict[str, Any]:
        # The key is left out: the file carries the key the experiment reached. The buffer
        # sizes and compiler options enter, as they change the proposals' rounding.
        return run_description(
            self.optimizer, self.problem, None, self._state,
            {"experiment": list(RECORDS), "grow": self.grow,
             "compiler_options": describe(dict(self.compiler_options))},
        )

    def _append(self, X: np.ndarray) -> None:
        n = len(X)
        self._X = np.concatenate([self._X, X])
        self._F = np.concatenate([self._F, np.full((n, self.optimizer.n_obj), np.nan)])
        self._G = np.concatenate([self._G, np.full((n, self.optimizer.n_constr), np.nan)])
        self._observed = np.concatenate([self._observed, np.zeros(n, bool)])

    def _checked_ids(self, ids: Any) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or not (ids.dtype.kind in "iu" or ids.size == 0):
            raise ValueError(
                f"ids must be a 1-D sequence of integer ids from suggest, got {ids!r}"
            )
        ids = ids.astype(np.int64)
        unknown = ids[(ids < 0) | (ids >= self.n_suggested)]
        if unknown.size:
            raise ValueError(
                f"unknown ids {unknown.tolist()}: suggest has handed out ids 0 to "
                f"{self.n_suggested - 1}"
            )
        values, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"ids {values[counts > 1].tolist()} repeat within one observe")
        seen = ids[self._observed[ids]]
        if seen.size:
            raise ValueError(f"ids {seen.tolist()} were already observed; each is observed once")
        return ids

    def _propose(self) -> np.ndarray:
        """One proposal `(q, n_var)` from the observations, conditioned on the pending
        points."""
        capacity = self.capacity
        X_pending, pending_mask = self.pending_rows()
        if self.precompile:
            ask = self._program(capacity, len(pending_mask)).result()
        else:
            ask = compiled_ask(self.optimizer, capacity, self.compiler_options)
        X, key, params = ask(*self._state, self.buffer(capacity), X_pending, pending_mask)
        self._state = self._state._replace(key=key, params=params)
        larger = size_to_compile_next(self.optimizer, len(self.ids), capacity)
        if self.precompile and larger is not None:
            self._program(larger, len(pending_mask))
        return np.asarray(X, float)

    def _program(self, capacity: int, n_pending: int) -> Future:
        """The proposal at `capacity` slots and `n_pending` pending rows, compiling or
        compiled in the background (`compiling_ask`)."""
        return compiling_ask(self.optimizer, capacity, n_pending, self._state.key.dtype,
                             jnp.result_type(float), self.compiler_options)

    def _kept(
        self, F: np.ndarray, finite: np.ndarray, violation: np.ndarray, capacity: int
    ) -> np.ndarray:
        """Which `capacity` of the observations `F` `(n, n_obj)` the GP models, ascending:
        `finite` `(n,)` ones first, then the feasible best (one objective, infeasible ones by
        least `violation` `(n,)`) or the newest (several)."""
        if self.optimizer.n_obj == 1:
            objective = np.where(finite & (violation <= 0), F[:, 0], 0.0)
            order = np.lexsort((objective, violation, ~finite))
        else:
            order = np.lexsort((-np.arange(len(F)), ~finite))
        return np.sort(order[:capacity])
