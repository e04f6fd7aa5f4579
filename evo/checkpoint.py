"""Checkpoints of a run: its state pytree and history so far, written atomically.

A checkpoint is one `.npz` file: the state's leaves (PRNG keys stored as their raw key
data), the history arrays, and a small JSON header. It is written to a temporary file in
the same directory, flushed to disk, and renamed over the previous checkpoint, so a run
killed at any moment leaves either the old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


class Checkpoint(NamedTuple):
    state: Any  # the pytree, with the template's structure and key types
    history: dict[str, np.ndarray]  # each with a leading (generation,) axis
    generation: int  # generations completed
    fingerprint: str  # what the run was, as written by `save_checkpoint`


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save_checkpoint(
    path: str | os.PathLike,
    state: Any,
    history: dict[str, np.ndarray],
    generation: int,
    fingerprint: str,
) -> None:
    """Write `state` (any pytree of arrays), `history` and `generation` to `path` atomically.

    `fingerprint` names the run (algorithm, problem, key); `load_checkpoint` refuses a file
    whose fingerprint differs from the one it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree.leaves(state)
    arrays = {
        f"leaf_{i}": np.asarray(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
        for i, leaf in enumerate(leaves)
    }
    arrays.update({f"history_{name}": np.asarray(value) for name, value in history.items()})
    for name, array in arrays.items():
        if array.dtype.kind not in "biufc":
            raise TypeError(f"checkpoint: {name} is not a numeric array (dtype {array.dtype})")
    header = {
        "version": FORMAT_VERSION,
        "generation": int(generation),
        "n_leaves": len(leaves),
        "history": sorted(history),
        "fingerprint": fingerprint,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    descriptor, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | os.PathLike, template: Any, fingerprint: str | None
) -> Checkpoint:
    """Read the checkpoint at `path` into the structure of `template` (a state pytree of the
    same run, e.g. `algorithm.init(key)`). A `fingerprint` of None accepts any run's file.

    Raises CheckpointError, leaving the file in place, when it is unreadable (truncated or
    corrupted), was written by another run (different `fingerprint`), or holds arrays whose
    shapes or dtypes differ from the template's.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            leaves = [data[f"leaf_{i}"] for i in range(header["n_leaves"])]
            history = {name: data[f"history_{name}"] for name in header["history"]}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); "
            "the file was left as it is"
        ) from error
    if header.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {header.get('version')!r}, "
                              f"expected {FORMAT_VERSION}")
    if fingerprint is not None and header["fingerprint"] != fingerprint:
        raise CheckpointError(
            f"checkpoint {path} belongs to another run:\n  file: {header['fingerprint']}\n"
            f"  this: {fingerprint}"
        )
    expected, treedef = jax.tree.flatten(template)
    if len(leaves) != len(expected):
        raise CheckpointError(
            f"checkpoint {path} holds {len(leaves)} arrays, the state has {len(expected)}"
        )
    restored = []
    for i, (saved, like) in enumerate(zip(leaves, expected)):
        like_data = jax.random.key_data(like) if _is_key(like) else np.asarray(like)
        if saved.shape != like_data.shape or saved.dtype != like_data.dtype:
            raise CheckpointError(
                f"checkpoint {path}: array {i} is {saved.dtype}{list(saved.shape)}, "
                f"the state expects {like_data.dtype}{list(like_data.shape)}"
            )
        if _is_key(like):
            restored.append(jax.random.wrap_key_data(saved, impl=jax.random.key_impl(like)))
        else:
            restored.append(jax.numpy.asarray(saved))
    return Checkpoint(
        state=jax.tree.unflatten(treedef, restored),
        history=history,
        generation=header["generation"],
        fingerprint=header["fingerprint"],
    )
