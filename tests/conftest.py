"""Test-session settings that must be in place before NumPy is imported, a compilation
cache shared by the session's workers, and the release of compiled programs between test
modules."""

import os
import shutil
import tempfile

import pytest

# OpenBLAS's threads compete with XLA's for the few cores of a CI machine: small
# triangular solves in the GP tests ran up to 40x slower with them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Tests compile from scratch: importing evo.bo would otherwise switch on JAX's persistent
# compilation cache in the user's cache directory (tests/test_compilation_cache.py checks it).
os.environ.setdefault("EVO_COMPILATION_CACHE", "0")
# XLA's CPU runtime can wedge its multithreaded Eigen pool on large vmapped programs (the
# batched GP fits here): seen as an idle process that never returns. One Eigen thread per
# process avoids it and costs nothing when the test workers already fill the cores.
if "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    ).strip()


# Test files compile many of the same programs (evo.run's generations, JAX's eager
# operations): a persistent compilation cache private to this session lets every worker
# reuse what another compiled (on 2 cores the default suite took 887 s against 1,090, and
# six of the algorithms' files 166-186 s against 196-246, runs alternated). The process
# that loads this file first creates it; the workers it starts inherit the variable.
CREATED_SESSION_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    CREATED_SESSION_CACHE = tempfile.mkdtemp(prefix="evo-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = CREATED_SESSION_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


def pytest_unconfigure(config):
    if CREATED_SESSION_CACHE is not None:
        shutil.rmtree(CREATED_SESSION_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def release_compiled_programs():
    """Drop every compiled program after each test module. Each XLA executable holds
    memory mappings of its own; the whole suite's thousands of them approached the
    kernel's per-process map limit (65,530), and a large compile late in the run aborted.
    Keeping them below half that limit instead made the next modules no faster."""
    yield
    import sys

    import jax

    from evo.run import compiled_chunk

    compiled_chunk.cache_clear()
    buffers = sys.modules.get("evo.bo.buffers")
    if buffers is not None:
        # Proposals compiling in the background finish first, so that none writes to the
        # session's cache after it is removed.
        buffers.wait_for_compilations()
        buffers.compiling_ask.cache_clear()
    jax.clear_caches()
