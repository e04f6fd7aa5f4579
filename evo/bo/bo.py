"""Bayesian optimisation (GP surrogate + acquisition) with the `init / ask / tell` API."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import check_objectives, state_class
from evo.bo.acquisition import (
    ACQUISITIONS,
    distinct_argmins,
    joint_samples,
    log_expected_improvement,
    log_probability_of_feasibility,
    maximise,
    q_expected_improvement,
    upper_confidence_bound,
)
from evo.bo.base import (
    BayesianOptimizer,
    BOState,
    design_or_propose,
    design_points,
    in_design,
)
from evo.bo.buffers import (
    buffer_capacity,
    compiling_ask,
    padded_buffer,
    size_to_compile_next,
)
from evo.bo.gp import (
    GPParams,
    default_params,
    fit_gp_batch,
    from_unit,
    gp_joint,
    gp_posterior,
    gp_predict,
    standardise,
    to_unit,
)
from evo.bo.hypervolume_acquisition import (
    log_nehvi,
    noisy_front,
    reference_point,
)
from evo.checks import check_choice, check_float, check_int, frozen_setattr, settings_class
from evo.operators import flat_draw
from evo.sorting import pareto_dominance

BATCH_METHODS = ("believer", "mc")
MO_ACQUISITIONS = ("lognehvi", "parego")


@state_class
class BayesOptState(BOState):
    G: jax.Array  # (capacity, n_constr) constraint values (feasible when <= 0)
    age: jax.Array  # (capacity,) int32, when the slot was written (evicted oldest-first, MO)


@settings_class
class BayesOpt(BayesianOptimizer):
    """Gaussian-process Bayesian optimisation proposing `q` points per ask: Matern-5/2 or
    RBF kernel with ARD, batched restarts; log-EI, UCB or Thompson sampling; q points by
    Kriging believer or Monte Carlo q-EI; for several objectives qLogNEHVI over box
    decompositions, exact for 2 and 3 objectives and sampled beyond (ParEGO as an option);
    constraints through posterior feasibility. Needs `pip install "evo[bo]"`.

    Args:
        n_obj: number of objectives. With more than one, each objective gets its own GP and
            `mo_acquisition` chooses the points.
        mo_acquisition: with several objectives, "lognehvi" (the default): qLogNEHVI, the
            log of the expected hypervolume improvement over joint posterior samples of the
            observed front (Daulton et al. 2021; log form after Ament et al. 2023), `q`
            points chosen one after another, each earlier one joining the sampled front as a
            pending point; or "parego" (Knowles 2006): each ask scalarises the objectives
            (normalised to [0, 1] over the observations) with an augmented Tchebycheff
            function of random simplex weights and `acquisition` and `batch` apply to it;
            under "believer" and "thompson" each of the `q` points has weights of its own
            (qParEGO, Daulton et al. 2020), each scalarisation its own GP.
        ref_point: reference point `(n_obj,)` of the hypervolume ("lognehvi"); by default
            the nadir of the observed front plus a tenth of its extent, at each ask.
        hv_samples: posterior samples of the front and candidates ("lognehvi").
        lb, ub: box bounds `(n_var,)`.
        q: points per ask (and per `evo.run` generation).
        n_init: size of the initial Latin-hypercube design, rounded up to a multiple of `q`;
            the first `ceil(n_init / q)` asks return it, `q` points at a time.
        capacity: size of the observation buffer (static shapes keep `tell` jittable). When
            full, new observations replace empty / ignored slots first, then (single
            objective) infeasible then worst ones, or (multi-objective) the oldest.
        n_constr: number of constraints `G` passed to `tell` (feasible when `G <= 0`); each
            gets its own GP and the acquisition is multiplied by the probability of
            feasibility (Gardner et al. 2014).
        acquisition: "logei" (log expected improvement, Ament et al. 2023), "ucb" (lower
            confidence bound with `ucb_beta`) or "thompson" (Thompson sampling on a random
            candidate set of `n_candidates` points).
        kernel: "matern52" or "rbf", ARD length scales on unit-cube inputs.
        fit_method, fit_restarts, fit_steps, fit_lr: hyperparameter fit by Adam (default)
            or L-BFGS, restarts batched, the previous fit always one start; priors as in
            `BayesianOptimizer`.
        n_candidates, n_starts, opt_steps, opt_lr: acquisition maximisation: random and local
            candidates scored in one batch, Adam polishing of the `n_starts` best.
        batch: how "logei" / "ucb" choose `q > 1` points. "believer" (Kriging believer):
            each chosen point is added to the GP with its posterior mean as a fantasy
            observation before the next one is chosen, and the incumbent of log-EI is the
            best point predicted feasible, fantasies included. "mc" ("logei" only, no
            constraints):
            Monte Carlo q-EI with `n_mc` fixed base samples, maximised over whole batches
            (flattened to `q * n_var` coordinates) starting from the Kriging-believer batch
            and from `n_candidates // q` random batches of candidates.

    Thompson sampling draws `q` joint samples and takes distinct minimisers.
    `ask_with_pending` conditions a proposal on points handed out but not yet told
    (`evo.bo.Experiment`, for experiments evaluated outside JAX).

    Non-finite observations are stored but ignored (`evo.bo.base`). While fewer than 2
    finite observations exist after the design, asks return uniform random points.
    """

    paper = "Jones, Schonlau & Welch 1998; Daulton et al. 2021 (qNEHVI); Knowles 2006 (ParEGO)"
    reference = "BoTorch"

    n_constr: int = 0
    acquisition: str = "logei"
    ucb_beta: float = 4.0
    n_starts: int = 8
    opt_steps: int = 20
    opt_lr: float = 0.02
    batch: str = "believer"
    n_mc: int = 256
    mo_acquisition: str = "lognehvi"
    ref_point: Any = None
    hv_samples: int = 128

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_starts", "n_mc", "hv_samples"):
            check_int(f"BayesOpt: {name}", getattr(self, name))
        check_int("BayesOpt: n_constr", self.n_constr, 0)
        check_int("BayesOpt: opt_steps", self.opt_steps, 0)
        check_float("BayesOpt: ucb_beta", self.ucb_beta, 0.0)
        check_float("BayesOpt: opt_lr", self.opt_lr, 0.0, open_low=True)
        check_choice("BayesOpt: acquisition", self.acquisition, ACQUISITIONS)
        check_choice("BayesOpt: batch", self.batch, BATCH_METHODS)
        if self.batch == "mc" and (self.acquisition != "logei" or self.n_constr):
            raise ValueError(
                'BayesOpt: batch="mc" (q-EI) needs acquisition="logei" and no constraints'
            )
        check_choice("BayesOpt: mo_acquisition", self.mo_acquisition, MO_ACQUISITIONS)
        if self.hypervolume and (self.acquisition != "logei" or self.batch != "believer"):
            raise ValueError(
                f'BayesOpt: acquisition="{self.acquisition}", batch="{self.batch}" with '
                'several objectives needs mo_acquisition="parego"'
            )
        if self.ref_point is not None:
            ref = np.asarray(self.ref_point, float)
            if ref.shape != (self.n_obj,) or not np.all(np.isfinite(ref)):
                raise ValueError(
                    f"BayesOpt: ref_point must be {self.n_obj} finite numbers, got "
                    f"{self.ref_point!r}"
                )
            frozen_setattr(self, ref_point=ref)

    @property
    def hypervolume(self) -> bool:
        """Whether asks maximise qLogNEHVI (several objectives, not ParEGO)."""
        return self.n_obj > 1 and self.mo_acquisition == "lognehvi"

    @property
    def n_targets(self) -> int:
        """Objective GPs fitted per ask: each objective (qLogNEHVI), one ParEGO
        scalarisation per batch point (but one for q-EI), or the single objective."""
        if self.hypervolume:
            return self.n_obj
        return self.q if self.n_obj > 1 and self.batch != "mc" else 1

    @property
    def n_models(self) -> int:
        """GPs fitted per ask: the `n_targets` objective ones, then one per constraint."""
        return self.n_targets + self.n_constr

    @classmethod
    def for_problem(cls, problem: Any, **settings: Any) -> BayesOpt:
        """As `BayesianOptimizer.for_problem`, with the problem's number of constraints."""
        return super().for_problem(problem, **{"n_constr": problem.n_constr, **settings})

    def check_constraints(self, n_constr: int) -> None:
        if n_constr != self.n_constr:
            raise ValueError(
                f"BayesOpt has n_constr={self.n_constr} but the problem has {n_constr} "
                f"constraints; build it with n_constr={n_constr}"
            )

    # ------------------------------------------------------------------ init / ask / tell

    def init(self, key: jax.Array) -> BayesOptState:
        return fresh_state(self, key)

    def _init(self, key: jax.Array) -> BayesOptState:
        key, design_key = jax.random.split(key)
        fields = self.initial_state(design_key)
        dtype = fields["X"].dtype
        c, k = self.capacity, self.n_models
        params = jax.tree.map(
            lambda t: jnp.broadcast_to(t, (k, *t.shape)), default_params(self.n_var, dtype)
        )
        return BayesOptState(
            key=key, params=params, G=jnp.zeros((c, self.n_constr), dtype),
            age=jnp.zeros((c,), jnp.int32), **fields,
        )

    def ask(self, state: BayesOptState) -> tuple[jax.Array, BayesOptState]:
        """The next `q` points `(q, n_var)`: from the initial design, then by acquisition."""
        no_pending = jnp.zeros((0, self.n_var), state.X.dtype)
        return self.ask_with_pending(state, no_pending, jnp.zeros((0,), bool))

    def ask_with_pending(
        self, state: BayesOptState, X_pending: jax.Array, pending_mask: jax.Array
    ) -> tuple[jax.Array, BayesOptState]:
        """As `ask`, with the proposal conditioned on points handed out but not yet told:
        the rows of `X_pending` `(p, n_var)` where `pending_mask` `(p,)` (a fixed number
        of rows `p` keeps one compilation for any number pending).

        Single-objective and ParEGO proposals treat each pending point as observed at its
        posterior mean (Kriging believer, `believed`), as the earlier points of a batch are;
        qLogNEHVI adds them to the sampled baseline. Design points do not depend on them.

        Called on concrete arrays (outside `jit`, `vmap` or `scan`), it runs compiled
        programs (`ask_on_host`): a design ask compiles only the design, and a proposal
        is compiled for the observations held (`evo.bo.buffers`), not for `capacity`.
        """
        X_pending = jnp.asarray(X_pending)
        pending_mask = jnp.asarray(pending_mask)
        p = pending_mask.shape[0] if pending_mask.ndim == 1 else -1
        if X_pending.shape != (p, self.n_var) or pending_mask.dtype != bool:
            raise ValueError(
                f"pending points must be X_pending (p, n_var={self.n_var}) with a boolean "
                f"pending_mask (p,), got shapes {tuple(X_pending.shape)} and "
                f"{tuple(pending_mask.shape)} ({pending_mask.dtype})"
            )
        if not any(isinstance(leaf, jax.core.Tracer)
                   for leaf in jax.tree.leaves((state, X_pending, pending_mask))):
            return self.ask_on_host(state, X_pending, pending_mask)
        return self._ask(state, X_pending, pending_mask)

    def ask_on_host(
        self, state: BayesOptState, X_pending: jax.Array, pending_mask: jax.Array
    ) -> tuple[jax.Array, BayesOptState]:
        """`ask_with_pending` on concrete arrays, by compiled programs: during the design
        one that hands out design points only; after it, the proposal at the buffer size
        that holds the filled slots (`evo.bo.buffers.buffer_capacity`; the rows in slot
        order), compiled on a background thread from the first design ask on, the next
        size's once the slots fill `PRECOMPILE_AT` of the current one. The points differ
        from a jitted ask's at `capacity` by float rounding, which the fit and the
        maximiser can carry further."""
        filled = np.asarray(state.filled)
        F, G = np.asarray(state.F), np.asarray(state.G)
        valid = filled & np.all(np.isfinite(F), 1) & np.all(np.isfinite(G), 1)
        held = np.flatnonzero(filled)

        def program(capacity: int):
            return compiling_ask(self, capacity, pending_mask.shape[0], state.key.dtype,
                                 state.X.dtype)

        if in_design(state.design, int(state.generation), int(valid.sum()), self.q):
            design = design_ask(self, state)
            program(buffer_capacity(self, self.n_design))
            return design
        capacity = buffer_capacity(self, len(held))
        buffer = padded_buffer(np.asarray(state.X)[held], F[held], G[held],
                               np.asarray(state.violation)[held], capacity)
        X, key, params = program(capacity).result()(
            state.key, state.params, state.design, buffer, X_pending, pending_mask)
        larger = size_to_compile_next(self, len(held), capacity)
        if larger is not None:
            program(larger)
        return X, state.replace(key=key, offspring=X, params=params)

    def _ask(
        self, state: BayesOptState, X_pending: jax.Array, pending_mask: jax.Array,
        design_only: bool = False,
    ) -> tuple[jax.Array, BayesOptState]:
        U_pending = to_unit(X_pending.astype(state.X.dtype), self.lb, self.ub)
        key, fit_key, prop_key = jax.random.split(state.key, 3)
        if design_only:
            X = design_points(state.design, state.generation, self.q, prop_key, self.lb,
                              self.ub)
            params = state.params
        else:
            X, params = design_or_propose(
                state.design, state.generation, jnp.sum(self._valid(state)), self.q,
                prop_key, self.lb, self.ub, state.params,
                lambda: self._propose(state, fit_key, prop_key, U_pending, pending_mask),
            )
        return X, state.replace(key=key, offspring=X, params=params)

    def tell(
        self, state: BayesOptState, F: jax.Array, G: jax.Array | None = None
    ) -> BayesOptState:
        """Add the observations `F` `(q, n_obj)` (and `G` `(q, n_constr)`) of the last ask."""
        F = jnp.asarray(F)
        check_objectives(F, self.q, self.n_obj)
        dtype = state.F.dtype
        F = F.astype(dtype)
        if G is None:
            if self.n_constr:
                raise ValueError(f"BayesOpt has n_constr={self.n_constr}: tell needs G")
            G = jnp.zeros((self.q, 0), dtype)
        else:
            G = jnp.asarray(G)
            if G.shape != (self.q, self.n_constr):
                raise ValueError(
                    f"constraint values must have shape (q, n_constr) = ({self.q}, "
                    f"{self.n_constr}), got {tuple(G.shape)}"
                )
            G = G.astype(dtype)
        return stored_observations(self, state, F, G)

    # ------------------------------------------------------------------ internals

    def _valid(self, state: BayesOptState) -> jax.Array:
        finite = jnp.all(jnp.isfinite(state.F), 1) & jnp.all(jnp.isfinite(state.G), 1)
        return state.filled & finite

    def _slots_to_fill(self, state: BayesOptState) -> jax.Array:
        valid = self._valid(state)
        feasible = valid & (state.violation <= 0)
        klass = jnp.where(
            ~state.filled, 0, jnp.where(~valid, 1, jnp.where(~feasible, 2, 3))
        )
        if self.n_obj == 1:
            worst_first = jnp.where(
                feasible, -state.F[:, 0], jnp.where(valid, -state.violation, 0.0)
            )
        else:
            worst_first = state.age.astype(state.F.dtype)
        order = jnp.lexsort((worst_first, klass))
        return order[: self.q]

    def _targets(self, state: BayesOptState, key: jax.Array) -> jax.Array:
        """Outputs to model `(capacity, n_models)`: the `n_targets` objectives or ParEGO
        scalarisations, then constraints. Invalid rows hold 0."""
        valid = self._valid(state)
        F = jnp.where(valid[:, None], state.F, 0.0)
        G = jnp.where(valid[:, None], state.G, 0.0)
        if self.hypervolume:
            return jnp.concatenate([F, G], 1)
        if self.n_obj == 1:
            y = F[:, 0]
        else:
            # ParEGO (Knowles 2006): normalise, then augmented Tchebycheff with rho = 0.05.
            lo = jnp.min(jnp.where(valid[:, None], F, jnp.inf), 0)
            hi = jnp.max(jnp.where(valid[:, None], F, -jnp.inf), 0)
            Fn = (F - lo) / jnp.where(hi > lo, hi - lo, 1.0)
            w = jax.random.dirichlet(key, jnp.ones(self.n_obj, F.dtype), (self.n_targets,))
            wF = w[None] * Fn[:, None]  # (capacity, n_targets, n_obj)
            y = jnp.max(wF, 2) + 0.05 * jnp.sum(wF, 2)
        return jnp.concatenate([y.reshape(F.shape[0], -1), G], 1)

    def _propose(
        self,
        state: BayesOptState,
        fit_key: jax.Array,
        key: jax.Array,
        U_pending: jax.Array,
        pending_mask: jax.Array,
    ):
        valid = self._valid(state)
        Y = self._targets(state, jax.random.fold_in(key, 1))
        masks = jnp.broadcast_to(valid[:, None], Y.shape)
        Ys, means, stds = jax.vmap(standardise, in_axes=(1, 1), out_axes=(1, 0, 0))(
            Y, masks
        )
        U = to_unit(state.X, self.lb, self.ub)
        params = fit_gp_batch(
            fit_key,
            U,
            Ys,
            masks,
            kernel=self.kernel,
            method=self.fit_method,
            n_restarts=self.fit_restarts,
            n_steps=self.fit_steps,
            learning_rate=self.fit_lr,
            init=state.params,
        )
        n = self.n_targets
        # constraint thresholds g <= 0 in standardised units
        thresholds = (0.0 - means[n:]) / stds[n:]
        feasible = valid & (state.violation <= 0)
        if self.hypervolume:
            Xq = self._hypervolume_batch(
                key, params, U, Ys, valid, feasible, thresholds, means, stds,
                U_pending, pending_mask,
            )
            return from_unit(Xq, self.lb, self.ub), params
        cand_key, opt_key, ts_key = jax.random.split(key, 3)
        candidates = self._candidates(cand_key, U, jnp.min(Ys[:, :n], 1), feasible)
        U, Ys, valid = believed(self.kernel, params, U, Ys, valid, U_pending, pending_mask)

        if self.acquisition == "thompson":
            Xq = self._thompson(ts_key, params, U, Ys, valid, thresholds, candidates)
        else:
            Xq = self._kriging_believer(
                opt_key, params, U, Ys, valid, thresholds, candidates
            )
            if self.batch == "mc" and self.q > 1:
                best, _ = self._incumbent(Ys, valid, thresholds)
                Xq = self._q_expected_improvement(
                    opt_key, params, U, Ys[:, 0], valid, best[0], candidates, Xq
                )
        return from_unit(Xq, self.lb, self.ub), params

    def _incumbent(
        self, Ys: jax.Array, mask: jax.Array, thresholds: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """The lowest value of each objective target `(n_targets,)` over the rows of `Ys`
        `(n, n_models)` where `mask` whose constraint targets are within `thresholds`
        (observed rows: the feasible ones; fantasies: those predicted feasible), and
        whether there is any such row."""
        n = self.n_targets
        feasible = mask & jnp.all(Ys[:, n:] <= thresholds, 1)
        best = jnp.min(jnp.where(feasible[:, None], Ys[:, :n], jnp.inf), 0)
        return best, jnp.any(feasible)

    def _candidates(self, key, U, y, feasible):
        """Uniform points plus Gaussian perturbations of the best observations."""
        n_local = self.n_candidates // 2
        n_uniform = self.n_candidates - n_local
        ku, kc, kn = jax.random.split(key, 3)
        uniform = flat_draw(jax.random.uniform, ku, (n_uniform, self.n_var), U.dtype)
        n_best = min(5, U.shape[0])
        _, best = jax.lax.top_k(-jnp.where(feasible, y, jnp.inf), n_best)
        centres = U[best][jax.random.randint(kc, (n_local,), 0, n_best)]
        scales = jnp.array([0.01, 0.05, 0.2], U.dtype)[jnp.arange(n_local) % 3]
        local = centres + scales[:, None] * flat_draw(
            jax.random.normal, kn, (n_local, self.n_var), U.dtype
        )
        return jnp.clip(jnp.concatenate([uniform, local]), 0.0, 1.0)

    def _kriging_believer(self, key, params, U, Ys, valid, thresholds, candidates):
        cap, k = Ys.shape
        q, n = self.q, self.n_targets
        U = jnp.concatenate([U, jnp.zeros((q, self.n_var), U.dtype)])
        Ys = jnp.concatenate([Ys, jnp.zeros((q, k), Ys.dtype)])
        mask = jnp.concatenate([valid, jnp.zeros((q,), bool)])
        kernel = self.kernel

        def choose(carry, i):
            U, Ys, mask = carry
            target = i if n > 1 else 0  # qParEGO: each point its own scalarisation
            best, any_feasible = self._incumbent(Ys, mask, thresholds)
            posts = jax.vmap(gp_posterior, in_axes=(None, 0, None, 1, None))(
                kernel, params, U, Ys, mask
            )

            def acq(X):
                mu, var = jax.vmap(gp_predict, in_axes=(None, 0, None))(
                    kernel, posts, X
                )
                sigma = jnp.sqrt(var)
                if self.acquisition == "logei":
                    value = jnp.where(
                        any_feasible,
                        log_expected_improvement(mu[target], sigma[target], best[target]),
                        0.0,
                    )
                else:
                    value = upper_confidence_bound(mu[target], sigma[target], self.ucb_beta)
                if self.n_constr:
                    value = value + jnp.sum(
                        log_probability_of_feasibility(
                            mu[n:], sigma[n:], thresholds[:, None]
                        ),
                        0,
                    )
                return value

            x, _ = maximise(
                jax.random.fold_in(key, i),
                acq,
                candidates,
                n_starts=self.n_starts,
                n_steps=self.opt_steps,
                learning_rate=self.opt_lr,
            )
            mu, _ = jax.vmap(gp_predict, in_axes=(None, 0, None))(
                kernel, posts, x[None]
            )
            slot = cap + i
            carry = (
                U.at[slot].set(x),
                Ys.at[slot].set(mu[:, 0]),
                mask.at[slot].set(True),
            )
            return carry, x

        _, Xq = jax.lax.scan(choose, (U, Ys, mask), jnp.arange(q))
        return Xq

    def _hypervolume_batch(
        self, key, params, U, Ys, valid, feasible, thresholds, means, stds,
        U_pending, pending_mask,
    ):
        """`q` points `(q, n_var)` maximising qLogNEHVI one after another; the pending
        points `U_pending` `(p, n_var)` (where `pending_mask`) and each chosen point join
        the sampled baseline."""
        m, q, cap, kernel = self.n_obj, self.q, self.capacity, self.kernel
        n_known = cap + U_pending.shape[0]
        posts = jax.vmap(gp_posterior, in_axes=(None, 0, None, 1, None))(
            kernel, params, U, Ys, valid
        )
        if self.ref_point is None:
            ref = reference_point(Ys[:, :m], jnp.where(jnp.any(feasible), feasible, valid))
        else:
            ref = (jnp.asarray(self.ref_point, Ys.dtype) - means[:m]) / stds[:m]
        F = jnp.where(feasible[:, None], Ys[:, :m], jnp.inf)
        front = feasible & ~jnp.any(pareto_dominance(F, F), 0)
        cand_key, front_key, z_key, opt_key = jax.random.split(key, 4)
        # local candidates around random members of the observed front
        tie = jax.random.uniform(cand_key, (cap,), Ys.dtype)
        candidates = self._candidates(
            cand_key, U, jnp.where(front, tie, 1.0 + tie), valid
        )
        k, s = self.n_models, self.hv_samples
        z_front = flat_draw(jax.random.normal, front_key, (s, k, n_known + q), Ys.dtype)
        z = flat_draw(jax.random.normal, z_key, (s, k, 1), Ys.dtype)

        def choose(carry, i):
            points, mask = carry
            baseline = noisy_front(kernel, posts, points, mask, ref, thresholds, z_front)

            def one(x):
                return log_nehvi(kernel, posts, baseline, x[None], thresholds, z)

            x, _ = maximise(
                jax.random.fold_in(opt_key, i),
                jax.vmap(one),
                candidates,
                n_starts=self.n_starts,
                n_steps=self.opt_steps,
                learning_rate=self.opt_lr,
            )
            slot = n_known + i
            return (points.at[slot].set(x), mask.at[slot].set(True)), x

        start = (
            jnp.concatenate([U, U_pending, jnp.zeros((q, self.n_var), U.dtype)]),
            jnp.concatenate([valid, pending_mask, jnp.zeros((q,), bool)]),
        )
        _, Xq = jax.lax.scan(choose, start, jnp.arange(q))
        return Xq

    def _q_expected_improvement(
        self, key, params, U, y, valid, best, candidates, start
    ):
        """The batch `(q, n_var)` maximising MC q-EI, from `start` and random batches."""
        q, d = self.q, self.n_var
        params = jax.tree.map(lambda t: t[0], params)
        post = gp_posterior(self.kernel, params, U, y, valid)
        z_key, pick_key = jax.random.split(key)
        z = flat_draw(jax.random.normal, z_key, (self.n_mc, q), U.dtype)

        def acq(B):  # (m, q * d) -> (m,)
            def one(X):
                mean, cov = gp_joint(self.kernel, post, X.reshape(q, d))
                return q_expected_improvement(mean, cov, best, z)

            return jax.vmap(one)(B)

        n_random = max(self.n_candidates // q, 1)
        idx = flat_draw(jax.random.randint, pick_key, (n_random, q), 0, candidates.shape[0])
        batches = jnp.concatenate([start[None], candidates[idx]]).reshape(-1, q * d)
        B, _ = maximise(
            key,
            acq,
            batches,
            n_starts=self.n_starts,
            n_steps=self.opt_steps,
            learning_rate=self.opt_lr,
        )
        return B.reshape(q, d)

    def _thompson(self, key, params, U, Ys, valid, thresholds, candidates):
        kernel = self.kernel
        posts = jax.vmap(gp_posterior, in_axes=(None, 0, None, 1, None))(
            kernel, params, U, Ys, valid
        )
        mean, cov = jax.vmap(gp_joint, in_axes=(None, 0, None))(
            kernel, posts, candidates
        )
        jitter = 1e-4 * jnp.exp(params.log_sf2)
        samples = joint_samples(key, mean, cov, jitter, self.q)  # (q, k, m)
        n = self.n_targets
        score = samples[jnp.arange(self.q), jnp.arange(self.q) if n > 1 else 0]
        if self.n_constr:
            excess = jnp.sum(
                jnp.maximum(samples[:, n:] - thresholds[None, :, None], 0.0), 1
            )
            score = jnp.where(excess > 0, 1e6 + excess, score)
        idx = distinct_argmins(score)
        return candidates[idx]


@functools.partial(jax.jit, static_argnums=0)
def fresh_state(optimizer: BayesOpt, key: jax.Array) -> BayesOptState:
    """`optimizer.init(key)`, one compiled program (op by op it took 0.3 s longer at a
    process's first optimizer)."""
    return optimizer._init(key)


@functools.partial(jax.jit, static_argnums=0)
def design_ask(optimizer: BayesOpt, state: BayesOptState) -> tuple[jax.Array, BayesOptState]:
    """`optimizer.ask(state)` while it hands out design points, compiled without the
    proposal."""
    no_pending = jnp.zeros((0, optimizer.n_var), state.X.dtype)
    return optimizer._ask(state, no_pending, jnp.zeros((0,), bool), design_only=True)


@functools.partial(jax.jit, static_argnums=0)
def stored_observations(
    optimizer: BayesOpt, state: BayesOptState, F: jax.Array, G: jax.Array
) -> BayesOptState:
    """`optimizer.tell(state, F, G)` on checked `F` `(q, n_obj)` and `G` `(q, n_constr)`, one
    compiled program (op by op, a first tell took 2.4 s)."""
    finite = jnp.all(jnp.isfinite(F), 1) & jnp.all(jnp.isfinite(G), 1)
    violation = jnp.where(finite, jnp.sum(jnp.maximum(G, 0.0), 1), jnp.inf)
    slots = optimizer._slots_to_fill(state)
    return state.replace(
        **optimizer.stored(state, slots, F, violation),
        G=state.G.at[slots].set(G),
        age=state.age.at[slots].set(state.generation + 1),
        generation=state.generation + 1,
    )


def believed(
    kernel: str,
    params: GPParams,
    U: jax.Array,
    Ys: jax.Array,
    mask: jax.Array,
    U_pending: jax.Array,
    pending_mask: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Kriging believer: the data `U` `(n, d)`, `Ys` `(n, k)`, `mask` `(n,)` of `k` GPs
    (`params` batched `(k,)`) with the pending points `U_pending` `(p, d)` appended, those
    where `pending_mask` `(p,)` as observations at their posterior means. The posterior
    mean stays as it was everywhere; the variance at a pending point drops to about the
    noise. Returns `(n + p, d)`, `(n + p, k)`, `(n + p,)`; the data unchanged when `p` is 0.
    """
    if U_pending.shape[0] == 0:
        return U, Ys, mask
    posts = jax.vmap(gp_posterior, in_axes=(None, 0, None, 1, None))(kernel, params, U, Ys, mask)
    mu, _ = jax.vmap(gp_predict, in_axes=(None, 0, None))(kernel, posts, U_pending)
    fantasies = jnp.where(pending_mask[:, None], mu.T, 0.0).astype(Ys.dtype)
    return (
        jnp.concatenate([U, U_pending.astype(U.dtype)]),
        jnp.concatenate([Ys, fantasies]),
        jnp.concatenate([mask, pending_mask]),
    )


def best_observation(state: BayesOptState) -> tuple[jax.Array, jax.Array]:
    """The best feasible, finite observation `(x, f)` of a single-objective state."""
    usable = state.filled & (state.violation <= 0) & jnp.all(jnp.isfinite(state.F), 1)
    i = jnp.argmin(jnp.where(usable, state.F[:, 0], jnp.inf))
    return state.X[i], state.F[i]
