"""JAX's persistent compilation cache, switched on when `evo.bo` is imported.

A Bayesian-optimisation run is short next to its compile: the first `ask` of a `BayesOpt`
compiles the GP fit and the acquisition's optimisation, seconds on a CPU, while each later
ask takes milliseconds. With JAX's persistent cache a second process with the same shapes
loads those programs from disk instead of compiling them again.

Importing `evo.bo` points `jax_compilation_cache_dir` at `$XDG_CACHE_HOME/evo/jax`
(`~/.cache/evo/jax` when `XDG_CACHE_HOME` is unset) unless a directory is already set
(by `jax.config` or `JAX_COMPILATION_CACHE_DIR`) or the environment variable
`EVO_COMPILATION_CACHE` is `0`, `false`, `no` or `off`. It also caches every program,
however short its compile (JAX's default keeps only those of 1 s or more), unless
`jax_persistent_cache_min_compile_time_secs` was changed from that default: the many small
programs of a `BayesOpt`'s `init` took 1.34 s to compile in a second process and 0.42 s
to load, which brought the second process's first ask from 3.2 s to 2.6 s (d = 2, quiet
2-core CPU). The cache is capped at `MAX_CACHE_BYTES` unless
`jax_compilation_cache_max_size` was set (or `filelock`, which JAX needs to enforce it, is
missing). These settings are JAX's, so they hold for every
program the process compiles afterwards.

A size limit makes JAX keep an access-time file beside each entry, and a process with the
limit fails to write anything (a warning per program) while one entry lacks it, as every
entry written without a limit does. `enable_compilation_cache` gives such entries one.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import jax

OPT_OUT_VARIABLE = "EVO_COMPILATION_CACHE"
OFF = ("0", "false", "no", "off")
MAX_CACHE_BYTES = 2**30
"""The cache's size limit (JAX evicts the least recently used programs beyond it)."""


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/evo/jax`, or `~/.cache/evo/jax`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evo" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Point JAX's persistent compilation cache at `path` (default `default_cache_dir()`)
    unless a cache directory is already set or `EVO_COMPILATION_CACHE` opts out; return
    the directory in use, or None when the cache stays off."""
    chosen = jax.config.jax_compilation_cache_dir
    if chosen:
        return Path(chosen)
    if os.environ.get(OPT_OUT_VARIABLE, "").strip().lower() in OFF:
        return None
    directory = Path(path) if path is not None else default_cache_dir()
    jax.config.update("jax_compilation_cache_dir", str(directory))
    if jax.config.jax_persistent_cache_min_compile_time_secs == 1.0:  # JAX's default
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # JAX enforces the limit with filelock (in the `bo` extra); without it a limit would
    # turn every cache read into an error.
    has_filelock = importlib.util.find_spec("filelock") is not None
    unlimited = jax.config.jax_compilation_cache_max_size == -1  # JAX's default
    if unlimited and has_filelock:
        jax.config.update("jax_compilation_cache_max_size", MAX_CACHE_BYTES)
    if jax.config.jax_compilation_cache_max_size > 0 and has_filelock:
        add_missing_access_times(directory)
    return directory


# The file names of jax/_src/lru_cache.py (jax 0.4.36 and later): an entry `KEY-cache`,
# its last access `KEY-atime`, nanoseconds as 8 little-endian bytes.
ENTRY_SUFFIX, ACCESS_TIME_SUFFIX = "-cache", "-atime"


def add_missing_access_times(directory: Path) -> int:
    """Give every entry of the cache in `directory` that lacks an access-time file one,
    its modification time; return how many were added. Unreadable entries are skipped."""
    added = 0
    for entry in directory.glob(f"*{ENTRY_SUFFIX}"):
        access_time = entry.with_name(entry.name[: -len(ENTRY_SUFFIX)] + ACCESS_TIME_SUFFIX)
        try:
            if not access_time.exists():
                access_time.write_bytes(entry.stat().st_mtime_ns.to_bytes(8, "little"))
                added += 1
        except OSError:
            continue
    return added
