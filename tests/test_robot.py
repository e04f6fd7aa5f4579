"""Robot control on Brax: objectives against a hand-written step loop, the done latch,
observation statistics across generations, and hypervolume progress on MO-halfcheetah.

Compiling a Brax environment costs tens of seconds on a small CPU, so the default tests
share one problem and its jitted evaluation (module level) and compile only that and
NSGA-III's ask and tell, all in XLA's quick-compile mode. The hand-written loop runs by
default on a light Brax-like environment; on halfcheetah (its reset and step compiled
once more) and on the other environments it is in tests marked slow.

The tests run in float64. Under random policies the simulated robots are chaotic: two
float32 programs that round differently (the compiled rollout and the step loop) drift
apart, a 1e-6 change of a velocity growing to about 1 in the summed speed of a 20-step
halfcheetah episode. In float64 the two agree to 1e-9.
"""

import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.metrics import hypervolume
from evo.problems import get_problem
from evo.problems.policy import (
    MLPPolicy,
    ObsStats,
    add_observation,
    merge,
    normalize,
    pool,
)
from evo.problems.robot import STEP_REWARDS, TASKS, RobotControl, Task, rollout

from compile_options import QUICK

pytest.importorskip("brax")

PROBLEM = RobotControl(task="mo-halfcheetah", episode_length=10, episodes=2)
EVALUATE = jax.jit(PROBLEM.evaluate_with_state, compiler_options=QUICK)
POP = 8


@pytest.fixture(autouse=True, scope="module")
def float64():
    with jax.enable_x64(True):
        yield


def halfcheetah_terms(state, action):
    """What a step adds to `F` `(k, 2)` of speed-and-energy tasks without a survival bonus."""
    return np.stack([-np.asarray(state.metrics["x_velocity"]),
                     np.asarray(jnp.sum(action**2, axis=1))], axis=1)


def hand_loop(problem, params, obs_stats, keys, terms=halfcheetah_terms):
    """Summed terms `(k, m)` (`terms(state, action)` of each step) of episodes of `problem`
    run by stepping its environment in Python, one episode per row of `params`
    `(k, n_var)` and `keys` `(k,)`, and the observations the policies acted on
    `(steps, k, obs_size)`; terms and observations stop at each episode's first done."""
    env = problem.env
    reset, step, act = (jax.jit(jax.vmap(f), compiler_options=QUICK)
                        for f in (env.reset, env.step, problem.policy))
    state = reset(keys)
    alive = np.ones(len(keys), bool)
    total, seen = 0.0, []
    for _ in range(problem.episode_length):
        seen.append(np.where(alive[:, None], np.asarray(state.obs), np.nan))
        action = act(params, normalize(obs_stats, state.obs))
        state = step(state, action)
        total = total + np.where(alive[:, None], terms(state, action), 0.0)
        alive &= np.asarray(state.done) == 0
    return total, np.stack(seen)


def check_two_generations_against_the_hand_loop(problem, evaluate, terms=halfcheetah_terms):
    """Two generations: each row's objectives are the mean over its two episodes of the
    hand loop with the keys and normalisation of that generation, and the state's
    statistics are those of every observation acted on so far."""
    X = jax.random.uniform(jax.random.key(0), (POP, problem.n_var), minval=-1, maxval=1)
    states = [problem.init_state(jax.random.key(1))]
    F = []
    for _ in range(2):
        F_gen, state = evaluate(states[-1], X)
        F.append(np.asarray(F_gen))
        states.append(state)

    observations = []
    for gen in range(2):
        before = states[gen]
        keys = problem.episode_keys(jax.random.split(before.key)[1], POP)
        sums, seen = hand_loop(problem, jnp.repeat(X, problem.episodes, axis=0),
                               before.obs_stats, keys.reshape(-1), terms)
        expected = sums.reshape(POP, problem.episodes, -1).mean(axis=1) / problem.episode_length
        np.testing.assert_allclose(F[gen], expected, rtol=1e-9, atol=1e-10)
        observations.append(seen.reshape(-1, seen.shape[-1]))
        obs = np.concatenate(observations)
        obs = obs[np.all(np.isfinite(obs), axis=1)]
        after = states[gen + 1].obs_stats
        assert float(after.count) == len(obs)
        np.testing.assert_allclose(after.mean, obs.mean(axis=0), rtol=1e-9, atol=1e-10)
        # atol: observations constant over the episodes (variance 0 up to rounding)
        np.testing.assert_allclose(after.m2 / after.count, obs.var(axis=0), rtol=1e-9,
                                   atol=1e-20)

    # Fresh keys and updated normalisation: the same policies score differently.
    assert not np.allclose(F[0], F[1])
    assert not np.allclose(states[1].obs_stats.mean, states[2].obs_stats.mean)
    return states


@pytest.mark.slow
def test_objectives_and_statistics_equal_a_hand_written_step_loop():
    # About 100 s on two cores: Brax's reset and step compiled once more for the hand loop.
    states = check_two_generations_against_the_hand_loop(PROBLEM, EVALUATE)
    # halfcheetah never sets done: every step of every episode is observed.
    assert float(states[2].obs_stats.count) == 2 * POP * 2 * PROBLEM.episode_length


def metric_terms(*names):
    """Per-step `F` terms `(k, len(names))` of tasks whose rewards are Brax metrics."""
    def terms(state, action):
        return np.stack([-np.asarray(state.metrics[name]) for name in names], axis=1)

    return terms


def pendulum_terms(state, action):
    """inverted_double_pendulum's two penalties, each less the bonus of 10 per step upright,
    from the environment's scalar reward (the bonus less both) and its joint velocities."""
    bonus = 10.0 * (1 - np.asarray(state.done))
    qd = np.asarray(state.pipeline_state.qd)
    velocity = -(bonus - (1e-3 * qd[:, 1] ** 2 + 5e-3 * qd[:, 2] ** 2))
    distance = -(np.asarray(state.reward) + bonus) - velocity
    return np.stack([distance, velocity], axis=1)


TERMS = {
    "mo-humanoidstandup": metric_terms("reward_linup", "reward_quadctrl"),
    "mo-inverted-double-pendulum": pendulum_terms,
    "mo-pusher": metric_terms("reward_dist", "reward_near", "reward_ctrl"),
    "mo-reacher": metric_terms("reward_dist", "reward_ctrl"),
}


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TERMS))
def test_objectives_are_the_environments_own_reward_terms(task):
    # 10-40 s each: the environment compiled in the rollout and for the hand loop.
    problem = RobotControl(task=task, episode_length=20, episodes=2)
    evaluate = jax.jit(problem.evaluate_with_state, compiler_options=QUICK)
    states = check_two_generations_against_the_hand_loop(problem, evaluate, TERMS[task])
    if task == "mo-inverted-double-pendulum":  # random policies drop the poles early
        assert float(states[2].obs_stats.count) < 2 * POP * 2 * problem.episode_length


@pytest.mark.slow
@pytest.mark.parametrize("task", [name for name, task in TASKS.items() if task.ref_point])
def test_nsga3_raises_the_hypervolume_of_every_task(task):
    problem = RobotControl(task=task, episode_length=50)
    algorithm = evo.NSGA3(n_obj=problem.n_obj, lb=problem.lb, ub=problem.ub, pop_size=16)
    result = evo.run(algorithm, problem, jax.random.key(0), 12, progress=False,
                     ref_point=problem.ref_point, indicators_every=1)
    hv = result.history["hv"]
    assert hv[-1] > hv[0] >= 0, hv


class DriftEnv:
    """A Brax-like environment in a few array operations: a damped point driven by the
    action through a force that turns with time (the last coordinate), its velocity a
    reward, `done` whenever the first coordinate is above 0.2 (it comes back below: a
    latch must hold it)."""

    action_size = 2

    def reset(self, key):
        from brax.envs.base import State

        obs = jnp.zeros(3).at[:2].set(jax.random.uniform(key, (2,), minval=-0.5, maxval=0.5))
        return State(None, obs, jnp.zeros(()), jnp.zeros(()), {"x_velocity": jnp.zeros(())})

    def step(self, state, action):
        x, v, t = state.obs
        force = action[0] * jnp.cos(1.3 * t) + 0.5 * action[1]
        obs = jnp.array([0.5 * x + 0.4 * force, 0.8 * v + 0.2 * action[1], t + 1.0])
        done = (obs[0] > 0.2).astype(state.done.dtype)
        return state.replace(obs=obs, done=done, metrics={"x_velocity": force + 0.5 * v})


def test_rollout_equals_a_hand_written_step_loop_on_a_light_environment(monkeypatch):
    # The slow test above on Brax's halfcheetah; here the same check on an environment that
    # compiles in a moment, whose episodes end early and at different steps.
    import evo.problems.robot as robot

    monkeypatch.setitem(TASKS, "mo-drift", Task("drift", "none", ("speed", "energy"), (0, 1)))
    monkeypatch.setattr(robot, "make_env", lambda name, backend: DriftEnv())
    monkeypatch.setattr(robot, "env_sizes", lambda name, backend: (3, DriftEnv.action_size))
    problem = RobotControl(task="mo-drift", episode_length=12, episodes=2)
    states = check_two_generations_against_the_hand_loop(
        problem, jax.jit(problem.evaluate_with_state))
    assert 0 < float(states[2].obs_stats.count) < 2 * POP * 2 * problem.episode_length


def test_hypervolume_improves_on_mo_halfcheetah():
    algorithm = evo.NSGA3(n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub, pop_size=POP)
    ask = jax.jit(algorithm.ask, compiler_options=QUICK)
    tell = jax.jit(algorithm.tell, compiler_options=QUICK)
    state = algorithm.init(jax.random.key(0))
    problem_state = PROBLEM.init_state(jax.random.key(1))
    hv = []
    for _ in range(8):
        X, state = ask(state)
        F, problem_state = EVALUATE(problem_state, X)
        state = tell(state, F)
        hv.append(float(hypervolume(state.F, PROBLEM.ref_point)))
    assert hv[-1] > 1.2 * hv[0] > 0, hv


class CountingEnv:
    """A Brax-like environment whose observation ends with its step counter: it pays
    speed 1 every step, sets `done` at step 5 only (a latch must hold it) and returns NaN
    observations from step 7 on (they must not reach the statistics)."""

    action_size = 2

    def reset(self, key):
        from brax.envs.base import State

        obs = jnp.zeros(3).at[:2].set(jax.random.uniform(key))
        return State(None, obs, jnp.zeros(()), jnp.zeros(()), {"x_velocity": jnp.zeros(())})

    def step(self, state, action):
        t = state.obs[2] + 1.0
        obs = jnp.where(t > 6, jnp.nan, state.obs.at[2].set(t))
        done = (t == 5).astype(state.done.dtype)
        return state.replace(obs=obs, done=done, metrics={"x_velocity": jnp.ones(())})


def test_rewards_stop_after_done_and_stay_stopped():
    task = Task("counting", "none", ("speed", "energy"), None)
    policy = MLPPolicy(3, 2, (4,))
    params = jnp.linspace(-1, 1, policy.n_params)[None]
    keys = jax.random.split(jax.random.key(0), (1, 2))
    totals, seen = rollout(CountingEnv(), task, policy, params,
                           ObsStats.empty(3), keys, 10)
    assert totals.shape == (1, 2, 2)
    np.testing.assert_array_equal(totals[..., 0], 5.0)  # steps 1-5 paid, none after
    assert np.all(totals[..., 1] < 0) and np.all(np.isfinite(totals))
    assert float(seen.count) == 2 * 5  # observations acted on at steps 0-4 of each episode
    assert np.all(np.isfinite(seen.mean)) and np.all(np.isfinite(seen.m2))


def test_a_rendered_episode_shows_the_robot_and_its_motion(tmp_path):
    from PIL import Image, ImageSequence

    problem = RobotControl(task="mo-inverted-double-pendulum", episode_length=12)
    import mujoco

    try:
        mujoco.Renderer(problem.env.sys.mj_model, 24, 32).close()
    except Exception as error:  # no OpenGL for MuJoCo on this machine
        pytest.skip(f"MuJoCo cannot render offscreen here ({error})")
    params = jax.random.uniform(jax.random.key(5), (problem.n_var,), minval=-1, maxval=1)
    stats = ObsStats.empty(problem.policy.obs_size)
    n = problem.render(params, stats, tmp_path / "policy.gif", width=64, height=48, every=3)
    frames = [np.asarray(frame.convert("RGB"), dtype=float)
              for frame in ImageSequence.Iterator(Image.open(tmp_path / "policy.gif"))]
    assert 3 <= n == len(frames) <= 1 + problem.episode_length // 3
    assert frames[0].shape == (48, 64, 3) and frames[0].std() > 10  # not a blank image
    assert np.abs(frames[-1] - frames[0]).max() > 50  # the poles moved


def test_mlp_policy_is_the_documented_layout():
    policy = MLPPolicy(obs_size=3, action_size=2, hidden=(4,))
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = (rng.normal(size=s) for s in [(3, 4), (4,), (4, 2), (2,)])
    params = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    assert policy.n_params == params.size == 26
    obs = rng.normal(size=3)
    expected = np.tanh(np.tanh(obs @ W1 / math.sqrt(3) + b1) @ W2 / 2.0 + b2)
    np.testing.assert_allclose(policy(jnp.asarray(params), jnp.asarray(obs)), expected,
                               rtol=1e-5)


def test_observation_statistics_pool_like_numpy():
    rng = np.random.default_rng(1)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 1, 12)]
    per_batch = []
    for batch in batches:
        stats = ObsStats.empty(4)
        for row in batch:
            stats = add_observation(stats, jnp.asarray(row), jnp.array(True))
        stats = add_observation(stats, jnp.full(4, jnp.nan), jnp.array(False))  # ignored
        per_batch.append(stats)
    pooled = pool(jax.tree.map(lambda *x: jnp.stack(x), *per_batch))
    merged = merge(merge(per_batch[0], per_batch[1]), per_batch[2])
    everything = np.concatenate(batches)
    for stats in (pooled, merged):
        assert float(stats.count) == len(everything)
        np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(stats.m2 / stats.count, everything.var(axis=0), rtol=1e-4)
    normalised = normalize(pooled, jnp.asarray(everything))
    np.testing.assert_allclose(np.mean(normalised, axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.std(normalised, axis=0), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(normalize(ObsStats.empty(4), jnp.arange(4.0)), np.arange(4.0))


def test_swimmer_fluid_forces_run_on_this_jax():
    """Brax's fluid model calls `jnp.clip(x, a_min=...)`; the patch makes it run and clip."""
    import brax.fluid
    from brax import kinematics
    from brax.envs.swimmer import Swimmer

    RobotControl(task="mo-swimmer", episode_length=1)  # builds the env, which patches brax.fluid
    x = jnp.array([-1.0, 0.5, 3.0])
    np.testing.assert_array_equal(brax.fluid.jp.clip(x, a_min=0.0), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(brax.fluid.jp.clip(x, -0.5, 1.0), [-0.5, 0.5, 1.0])
    swimmer = Swimmer().sys

    @jax.jit
    def force(qd):
        frame, motion = kinematics.forward(swimmer, swimmer.init_q, qd)
        inertia = swimmer.link.inertia
        return brax.fluid.force(swimmer, frame, motion, inertia.mass, inertia.i)

    forces = force(jnp.ones(swimmer.qd_size()))
    assert np.all(np.isfinite(forces.vel)) and np.any(forces.vel != 0)


def test_registry_and_problem_configuration():
    assert get_problem("mo-halfcheetah", episode_length=10, episodes=2) == PROBLEM
    assert (PROBLEM.n_obj, PROBLEM.backend) == (2, TASKS["mo-halfcheetah"].backend)
    assert PROBLEM.n_var == PROBLEM.policy.n_params == (17 + 1) * 16 + (16 + 1) * 6
    np.testing.assert_array_equal(PROBLEM.ub, -PROBLEM.lb)
    assert PROBLEM.objective_names == ("-speed reward", "-energy reward")
    for name, task in TASKS.items():
        assert (task.ref_point is None) == (task.objectives == ("reward",)), name
        assert {*task.objectives, task.alive} - {None} <= set(STEP_REWARDS), name
        if task.ref_point is not None:
            assert len(task.ref_point) == len(task.objectives), name
    with pytest.raises(ValueError, match="unknown task"):
        RobotControl(task="mo-cartpole")
    with pytest.raises(ValueError, match="episode_length must be an integer >= 1"):
        RobotControl(task="mo-halfcheetah", episode_length=0)


def test_importing_evo_problems_does_not_import_brax():
    code = "import sys, evo, evo.problems; print('brax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize(
    "task", [name for name, task in TASKS.items() if task.ref_point and name != "mo-halfcheetah"]
)
def test_every_task_evaluates_to_finite_objectives(task):
    problem = RobotControl(task=task, episode_length=30)
    X = jax.random.uniform(jax.random.key(0), (4, problem.n_var), minval=-1, maxval=1)
    evaluate = jax.jit(problem.evaluate_with_state, compiler_options=QUICK)
    F, state = evaluate(problem.init_state(jax.random.key(1)), X)
    assert F.shape == (4, problem.n_obj) and np.all(np.isfinite(F))
    assert float(state.obs_stats.count) > 0


@pytest.mark.slow
def test_hopper_pays_nothing_after_it_falls():
    """Under random weights every hopper falls within 200 steps: episodes of 200 and 400
    steps then pay the same summed rewards and see the same observations."""
    problems = [RobotControl(task="mo-hopper-3obj", episode_length=length) for length in (200, 400)]
    X = jax.random.uniform(jax.random.key(2), (4, problems[0].n_var), minval=-1, maxval=1)
    sums, counts = [], []
    for problem in problems:
        evaluate = jax.jit(problem.evaluate_with_state, compiler_options=QUICK)
        F, state = evaluate(problem.init_state(jax.random.key(3)), X)
        sums.append(np.asarray(F) * problem.episode_length)
        counts.append(float(state.obs_stats.count))
    assert counts[0] == counts[1] < 4 * 200
    np.testing.assert_allclose(sums[0], sums[1], rtol=1e-4, atol=1e-4)
