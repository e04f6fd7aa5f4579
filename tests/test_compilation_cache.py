"""`evo.bo` switches on JAX's persistent compilation cache in a fresh process, unless the
user opted out or chose a directory."""

import os
import subprocess
import sys

import jax
import pytest

pytest.importorskip("optax")

from evo.bo import default_cache_dir, enable_compilation_cache  # noqa: E402
from evo.bo.compilation_cache import MAX_CACHE_BYTES  # noqa: E402

# Imports evo.bo, compiles one program and reports the cache directory and its files.
CHILD = """
import os, sys
import jax
import evo.bo
jax.jit(lambda x: x * 2 + 1)(jax.numpy.arange(3.0)).block_until_ready()
directory = jax.config.jax_compilation_cache_dir
print(directory)
print(len(os.listdir(directory)) if directory and os.path.isdir(directory) else 0)
print(jax.config.jax_persistent_cache_min_compile_time_secs)
print(jax.config.jax_compilation_cache_max_size)
"""


def run_child(env_changes: dict[str, str | None]) -> tuple[str, int, float, int]:
    env = dict(os.environ)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, check=True)
    directory, n_files, min_compile_time, max_size = out.stdout.split()
    return directory, int(n_files), float(min_compile_time), int(max_size)


DEFAULTS = {"EVO_COMPILATION_CACHE": None, "JAX_COMPILATION_CACHE_DIR": None,
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": None,
            "JAX_COMPILATION_CACHE_MAX_SIZE": None}


def test_a_fresh_process_writes_every_compiled_program_to_the_users_cache(tmp_path):
    # The program compiled is tiny: it is cached only because evo lowers JAX's 1 s floor.
    directory, n_files, min_compile_time, max_size = run_child(
        {**DEFAULTS, "XDG_CACHE_HOME": str(tmp_path)})
    assert directory == str(tmp_path / "evo" / "jax")
    assert n_files >= 1
    assert (min_compile_time, max_size) == (0.0, MAX_CACHE_BYTES)


def test_entries_written_without_a_size_limit_do_not_block_writes(tmp_path):
    # An entry without JAX's access-time file (as a process without a limit writes them)
    # made every later write of a limited process fail with a warning.
    directory = tmp_path / "evo" / "jax"
    directory.mkdir(parents=True)
    (directory / "unlimited-cache").write_bytes(b"x")
    env = {**DEFAULTS, "XDG_CACHE_HOME": str(tmp_path)}
    _, n_files, _, max_size = run_child(env)
    assert max_size == MAX_CACHE_BYTES
    assert (directory / "unlimited-atime").exists()
    assert n_files >= 4  # the old entry, its access time, and a new entry with its own


def test_settings_the_user_chose_are_kept(tmp_path):
    _, _, min_compile_time, max_size = run_child(
        {**DEFAULTS, "XDG_CACHE_HOME": str(tmp_path),
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "2.5",
         "JAX_COMPILATION_CACHE_MAX_SIZE": "12345"})
    assert (min_compile_time, max_size) == (2.5, 12345)


def test_opting_out_leaves_the_cache_off(tmp_path):
    directory, n_files, min_compile_time, _ = run_child(
        {**DEFAULTS, "XDG_CACHE_HOME": str(tmp_path), "EVO_COMPILATION_CACHE": "off"})
    assert (directory, n_files, min_compile_time) == ("None", 0, 1.0)
    assert not (tmp_path / "evo").exists()


def test_a_directory_the_user_chose_is_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("EVO_COMPILATION_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "evo" / "jax"
    previous = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
        assert enable_compilation_cache() == tmp_path / "mine"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
