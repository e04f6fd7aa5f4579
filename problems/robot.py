"""Robot control on Brax: each individual is an MLP policy, its objectives episode rewards.

A task names a Brax environment and the per-step rewards that become its objectives
(`TASKS`; the README has the table with reference points). One evaluation rolls out the
whole population, `episodes` episodes per individual with fresh keys, in one vmapped
`lax.scan` of `episode_length` steps:

- Per-step rewards (maximised, `STEP_REWARDS`): `speed` is the torso's forward velocity,
  `height` is `10 (z - z_0)`, the torso's height above where the episode started (scaled
  as in MO-Gymnasium's mo-hopper), `energy` is `-sum(action**2)`, and `reward` is the
  environment's own scalar reward. The other tasks split their environment's reward into
  its own terms: humanoidstandup's upward term and control penalty, reacher's and
  pusher's distances and control penalty, inverted_double_pendulum's distance and
  velocity penalties.
- Environments that end an episode when the robot falls (hopper, walker2d, ant,
  humanoid, inverted_double_pendulum) pay their own survival bonus into every objective
  of the multi-objective tasks, so that falling early is never a cheap way to save
  energy or penalties.
- `done` is latched: from the step after the one that sets it, nothing is paid.
- The objectives are minimised: `F = -(summed rewards) / episode_length`, averaged over
  the episodes, so a value is a per-step mean whatever the episode length.

The problem is stateful (`init_state`, `evaluate_with_state`; `evo.run` carries the
state): the state holds the key for the next episodes and the statistics of every
observation the policies have acted on so far, which normalise the next generation's
observations. Brax is imported only when a robot problem is built.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import platform
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_float, check_int, settings_class
from evo.problems.base import Problem
from evo.problems.policy import MLPPolicy, ObsStats, add_observation, merge, normalize, pool


# MuJoCo, which Brax imports, chooses its OpenGL backend once, when it is imported; on Linux
# EGL renders without a display (`RobotControl.render`). Another choice set before stays.
if platform.system() == "Linux":
    os.environ.setdefault("MUJOCO_GL", "egl")


class Task(NamedTuple):
    env: str  # Brax environment name
    backend: str  # Brax physics pipeline
    objectives: tuple[str, ...]  # keys of STEP_REWARDS
    ref_point: tuple[float, ...] | None  # for hypervolume, in units of F
    alive: str | None = None  # key of STEP_REWARDS: a survival bonus paid into each objective


TASKS: dict[str, Task] = {
    "mo-halfcheetah": Task("halfcheetah", "spring", ("speed", "energy"), (0.0, 6.0)),
    "mo-hopper": Task("hopper", "positional", ("speed", "height"), (0.0, 0.0), "healthy"),
    "mo-hopper-3obj": Task(
        "hopper", "positional", ("speed", "height", "energy"), (0.0, 0.0, 2.0), "healthy"
    ),
    "mo-walker2d": Task(
        "walker2d", "positional", ("speed", "energy"), (0.0, 5.0), "healthy"
    ),
    "mo-ant": Task("ant", "positional", ("speed", "energy"), (0.0, 7.0), "survive"),
    "mo-swimmer": Task("swimmer", "generalized", ("speed", "energy"), (0.0, 2.0)),
    "mo-humanoid": Task("humanoid", "spring", ("speed", "energy"), (0.0, 12.0), "alive"),
    "mo-humanoidstandup": Task(
        "humanoidstandup", "spring", ("standup", "control"), (0.0, 0.0272)
    ),
    "mo-inverted-double-pendulum": Task(
        "inverted_double_pendulum", "generalized", ("tip_distance", "pole_velocity"),
        (0.0, 0.0), "upright",
    ),
    "mo-pusher": Task(
        "pusher", "generalized", ("target_distance", "object_distance", "control"),
        (1.0, 2.0, 28.0),
    ),
    "mo-reacher": Task("reacher", "generalized", ("target_distance", "control"), (0.5, 2.0)),
    "halfcheetah": Task("halfcheetah", "spring", ("reward",), None),
    "hopper": Task("hopper", "positional", ("reward",), None),
    "walker2d": Task("walker2d", "positional", ("reward",), None),
    "ant": Task("ant", "positional", ("reward",), None),
    "swimmer": Task("swimmer", "generalized", ("reward",), None),
    "humanoid": Task("humanoid", "spring", ("reward",), None),
}


def _torso_height(state: Any) -> jax.Array:
    return state.pipeline_state.x.pos[0, 2]


StepReward = Callable[[Any, Any, jax.Array], jax.Array]

def _pendulum_tip(state: Any) -> jax.Array:
    """Position `(3,)` of the second pole's tip of inverted_double_pendulum (as its `step`)."""
    from brax import base

    return state.pipeline_state.x.take(2).do(
        base.Transform.create(pos=jnp.array([0.0, 0.0, 0.6]))).pos


def _control(state: Any) -> jax.Array:
    """The environment's own control penalty (negative), on its scaled actions."""
    metrics = state.metrics
    return metrics["reward_ctrl"] if "reward_ctrl" in metrics else metrics["reward_quadctrl"]


StepReward = Callable[[Any, Any, jax.Array], jax.Array]

STEP_REWARDS: dict[str, StepReward] = {
    # each maps (state after reset, state after the step, action) to a scalar to maximise
    "speed": lambda start, state, action: state.metrics["x_velocity"],
    "height": lambda start, state, action: 10.0 * (_torso_height(state) - _torso_height(start)),
    "energy": lambda start, state, action: -jnp.sum(action**2),
    "reward": lambda start, state, action: state.reward,
    # humanoidstandup's upward term: torso height / dt
    "standup": lambda start, state, action: state.metrics["reward_linup"],
    "control": lambda start, state, action: _control(state),
    # reacher: -|fingertip - target|; pusher: -|object - goal|
    "target_distance": lambda start, state, action: state.metrics["reward_dist"],
    # pusher: -|object - fingertip|
    "object_distance": lambda start, state, action: state.metrics["reward_near"],
    # inverted_double_pendulum's two penalties, which its reward subtracts from the bonus
    "tip_distance": lambda start, state, action: -(
        0.01 * _pendulum_tip(state)[0] ** 2 + (_pendulum_tip(state)[2] - 2) ** 2),
    "pole_velocity": lambda start, state, action: -(
        1e-3 * state.pipeline_state.qd[1] ** 2 + 5e-3 * state.pipeline_state.qd[2] ** 2),
    # survival bonuses
    "healthy": lambda start, state, action: state.metrics["reward_healthy"],
    "survive": lambda start, state, action: state.metrics["reward_survive"],
    "alive": lambda start, state, action: state.metrics["reward_alive"],
    "upright": lambda start, state, action: 10.0 * (1 - state.done),
}


def step_rewards(task: Task, start: Any, state: Any, action: jax.Array) -> jax.Array:
    """The objectives' rewards `(n_obj,)` of one step that led to `state` by `action`."""
    rewards = jnp.stack([STEP_REWARDS[name](start, state, action) for name in task.objectives])
    if task.alive is not None:
        rewards = rewards + STEP_REWARDS[task.alive](start, state, action)
    return rewards


class _NumpyWithOldClip(types.ModuleType):
    """`jax.numpy`, except that `clip` also takes the `a_min` / `a_max` keywords."""

    def __getattr__(self, name: str) -> Any:
        return getattr(jnp, name)

    @staticmethod
    def clip(x, min=None, max=None, *, a_min=None, a_max=None):
        return jnp.clip(x, a_min if min is None else min, a_max if max is None else max)


def patch_brax_fluid() -> None:
    """Let Brax's fluid model (used by swimmer) run on jax >= 0.10.

    `brax.fluid.force` calls `jp.clip(..., a_min=1e-12)`, a keyword jax 0.10 removed
    from `jnp.clip` (now `min`), so every swimmer step raised TypeError. The module's
    `jp` alone is swapped for `jax.numpy` with a `clip` that takes both spellings.
    """
    import brax.fluid

    if "a_min" not in inspect.signature(jnp.clip).parameters:
        brax.fluid.jp = _NumpyWithOldClip("jax.numpy")


@functools.cache
def make_env(name: str, backend: str) -> Any:
    """The Brax environment `name` on `backend`, built once per process."""
    from brax import envs

    patch_brax_fluid()
    return envs.get_environment(name, backend=backend)


def mujoco_camera(sys: Any, name: str) -> bool:
    """Whether the Brax system's MuJoCo model has a camera called `name`."""
    import mujoco

    return mujoco.mj_name2id(sys.mj_model, mujoco.mjtObj.mjOBJ_CAMERA, name) >= 0


@functools.cache
def env_sizes(name: str, backend: str) -> tuple[int, int]:
    """Observation and action lengths of an environment (traced, not run)."""
    env = make_env(name, backend)
    obs = jax.eval_shape(env.reset, jax.random.key(0)).obs
    return obs.shape[-1], env.action_size


def env_step(env: Any, state: Any, action: jax.Array) -> Any:
    """`env.step(state, action)` in the dtypes of `state`: some environments step to other
    dtypes than they reset to (inverted_double_pendulum's float32 `done` under x64), and a
    scan must keep the reset's."""
    return jax.tree.map(lambda new, old: jnp.asarray(new, jnp.result_type(old)),
                        env.step(state, action), state)


def episode(
    env: Any,
    task: Task,
    policy: MLPPolicy,
    params: jax.Array,
    obs_stats: ObsStats,
    key: jax.Array,
    episode_length: int,
) -> tuple[jax.Array, ObsStats]:
    """One episode of the policy with weights `params` `(n_params,)`, observations
    normalised by `obs_stats`.

    Returns the rewards `(n_obj,)` summed over the steps taken before `done` was first
    set (that step included), and the statistics of the finite observations the policy
    acted on in those steps.
    """
    start = env.reset(key)

    def step(carry, _):
        state, alive, total, seen = carry
        seen = add_observation(seen, state.obs, alive & jnp.all(jnp.isfinite(state.obs)))
        action = policy(params, normalize(obs_stats, state.obs))
        state = env_step(env, state, action)
        total = total + jnp.where(alive, step_rewards(task, start, state, action), 0.0)
        return (state, alive & (state.done == 0), total, seen), None

    total = jnp.zeros(len(task.objectives), start.obs.dtype)
    seen = ObsStats.empty(start.obs.shape[-1], start.obs.dtype)
    carry = (start, jnp.array(True), total, seen)
    (_, _, total, seen), _ = jax.lax.scan(step, carry, None, length=episode_length)
    return total, seen


def rollout(
    env: Any,
    task: Task,
    policy: MLPPolicy,
    params: jax.Array,
    obs_stats: ObsStats,
    keys: jax.Array,
    episode_length: int,
) -> tuple[jax.Array, ObsStats]:
    """`episode` for every individual `params` `(n, n_params)` and key `keys` `(n, e)`.

    Returns summed rewards `(n, e, n_obj)` and the pooled statistics of every episode's
    observations.
    """
    def run(params: jax.Array, key: jax.Array) -> tuple[jax.Array, ObsStats]:
        return episode(env, task, policy, params, obs_stats, key, episode_length)

    totals, seen = jax.vmap(jax.vmap(run, in_axes=(None, 0)))(params, keys)
    return totals, pool(jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), seen))


def episode_states(
    env: Any, policy: MLPPolicy, params: jax.Array, obs_stats: ObsStats, key: jax.Array,
    episode_length: int,
) -> tuple[Any, Any, jax.Array]:
    """The physics of one episode of the policy `params` `(n_params,)` as `episode` runs it:
    the reset's pipeline state, those after each step stacked `(episode_length, ...)`, and
    which steps were taken before the first done `(episode_length,)` bool."""
    start = env.reset(key)

    def step(carry, _):
        state, alive = carry
        state = env_step(env, state, policy(params, normalize(obs_stats, state.obs)))
        return (state, alive & (state.done == 0)), (state.pipeline_state, alive)

    _, (pipeline, taken) = jax.lax.scan(step, (start, jnp.array(True)), None,
                                        length=episode_length)
    return start.pipeline_state, pipeline, taken


class RobotState(NamedTuple):
    key: jax.Array  # for the next evaluation's episodes
    obs_stats: ObsStats  # every observation acted on so far


@settings_class(eq=True)
class RobotControl(Problem):
    """A Brax task from `TASKS` as a batched, stateful minimisation problem.

    A decision vector is the flat weight vector of an `MLPPolicy` (`n_var` is its size),
    in the box `[-bound, bound]`.

    Attributes:
        task: a key of `TASKS`, e.g. "mo-halfcheetah".
        episode_length: steps per episode.
        episodes: episodes per individual per evaluation, each with its own key; the
            objectives are their mean.
        hidden: hidden layer widths of the policy.
        bound: half-width of the box of weights.
        backend: Brax pipeline; default the task's.
    """

    task: str = "mo-halfcheetah"
    episode_length: int = 1000
    episodes: int = 1
    hidden: tuple[int, ...] = (16,)
    bound: float = 1.0
    backend: str | None = None
    n_var: int = dataclasses.field(init=False)
    n_obj: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known tasks: {', '.join(TASKS)}")
        check_int("episode_length", self.episode_length)
        check_int("episodes", self.episodes)
        check_float("bound", self.bound, 0.0, open_low=True)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "backend", self.backend or TASKS[self.task].backend)
        object.__setattr__(self, "n_var", self.policy.n_params)
        object.__setattr__(self, "n_obj", len(TASKS[self.task].objectives))

    @property
    def spec(self) -> Task:
        return TASKS[self.task]

    @property
    def env(self) -> Any:
        return make_env(self.spec.env, self.backend)

    @property
    def policy(self) -> MLPPolicy:
        return MLPPolicy(*env_sizes(self.spec.env, self.backend), self.hidden)

    @property
    def lb(self) -> np.ndarray:
        return np.full(self.n_var, -self.bound)

    @property
    def ub(self) -> np.ndarray:
        return np.full(self.n_var, self.bound)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The negated per-step mean rewards that `F` holds, e.g. `("-speed reward",
        "-energy reward")` (survival bonus included where the task pays one)."""
        return tuple("-reward" if name == "reward" else f"-{name} reward"
                     for name in self.spec.objectives)

    @property
    def ref_point(self) -> np.ndarray | None:
        """Reference point `(n_obj,)` for hypervolume; None for single-objective tasks."""
        ref = self.spec.ref_point
        return None if ref is None else np.asarray(ref, dtype=float)

    def render(
        self, params: jax.Array, obs_stats: ObsStats, path: str | os.PathLike,
        key: jax.Array | None = None, *, width: int = 320, height: int = 240,
        every: int = 2,
    ) -> int:
        """Write a GIF of one episode of the policy `params` `(n_var,)` (observations
        normalised by `obs_stats`, e.g. a run's final `problem_state.obs_stats`) to `path`,
        up to its first done; returns the number of frames.

        Every `every`-th step is drawn offscreen by MuJoCo's renderer, from the model's
        tracking camera where it has one, and played in real time. MuJoCo takes its OpenGL
        backend from `MUJOCO_GL` when it is first imported: this module sets "egl" on Linux
        unless it is set already, so import brax or mujoco after evo, or set `MUJOCO_GL`
        (egl, osmesa) yourself. The `brax` extra brings mujoco and Pillow.
        """
        from brax.io import image
        from PIL import Image

        key = jax.random.key(0) if key is None else key
        start, pipeline, taken = jax.device_get(
            episode_recorder(self)(jnp.asarray(params), obs_stats, key))
        steps = [jax.tree.map(lambda x, t=t: x[t], pipeline)
                 for t in np.flatnonzero(taken)[every - 1::every]]
        sys = self.env.sys
        camera = "track" if mujoco_camera(sys, "track") else None
        frames = [Image.fromarray(frame)
                  for frame in image.render_array(sys, [start, *steps], height, width, camera)]
        frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                       duration=round(1000 * self.env.dt * every))
        return len(frames)

    def init_state(self, key: jax.Array) -> RobotState:
        """Episode keys drawn from `key`; no observations seen (identity normalisation)."""
        return RobotState(key, ObsStats.empty(self.policy.obs_size))

    def episode_keys(self, key: jax.Array, n: int) -> jax.Array:
        """The reset keys `(n, episodes)` an evaluation with state key `key` gives `n` rows."""
        return jax.random.split(key, (n, self.episodes))

    def evaluate_with_state(
        self, state: RobotState, X: jax.Array
    ) -> tuple[jax.Array, RobotState]:
        """Objectives `(n, n_obj)` of policies `X` `(n, n_var)`, and the state with a fresh
        key and this evaluation's observations folded into the statistics.

        With `key, k = jax.random.split(state.key)`, the episodes start from
        `episode_keys(k, n)`, the next state holds `key`, and the policies see observations
        normalised by `state.obs_stats`.
        """
        key, episodes_key = jax.random.split(state.key)
        keys = self.episode_keys(episodes_key, X.shape[0])
        totals, seen = rollout(self.env, self.spec, self.policy, X, state.obs_stats, keys,
                               self.episode_length)
        F = -jnp.mean(totals, axis=1) / self.episode_length
        return F, RobotState(key, merge(state.obs_stats, seen))


@functools.cache
def episode_recorder(problem: RobotControl) -> Callable:
    """`episode_states` of `problem`'s environment, policy and episode length, jitted once
    per problem, so that rendering several policies compiles the episode once."""
    return jax.jit(functools.partial(episode_states, problem.env, problem.policy,
                                     episode_length=problem.episode_length))
