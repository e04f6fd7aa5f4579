"""Checkpoints of a run: its state pytree and history so far, written atomically, and what
identifies the run they belong to.

A checkpoint is one `.npz` file: the state's leaves (PRNG keys stored as their raw key
data), the history arrays, and a small JSON header. It is written to a temporary file in
the same directory, flushed to disk, and renamed over the previous checkpoint, so a run
killed at any moment leaves either the old checkpoint or the new one, never a torn file.

The header also holds a description of the run (`describe`): the algorithm's and the
problem's settings as data, the code of any user function they hold, the key, and the
state's structure. A checkpoint is resumed only by a run with the same description, in
this process or any other; otherwise `load_checkpoint` says which parts differ.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import types
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

FORMAT_VERSION = 2
MAX_DEPTH = 24
"""How deep `describe` follows nested objects before it names only their type."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


class Checkpoint(NamedTuple):
    state: Any  # the pytree, with the template's structure and key types
    history: dict[str, np.ndarray]  # each with a leading (generation,) axis
    generation: int  # generations completed
    run: Any  # the description of the run that wrote it (`describe`)


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _code_digest(code: types.CodeType) -> str:
    """Digest of a code object: its bytecode, names and constants, nested code included."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        parts.append(
            _code_digest(const).encode() if isinstance(const, types.CodeType)
            else repr(const).encode()
        )
    return _digest(b"\0".join(parts))


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def describe(value: Any, _depth: int = 0, _path: tuple[int, ...] = ()) -> Any:
    """A JSON-ready description of `value` that is the same for the same settings in any
    process and differs when a setting differs.

    Numbers, strings and None are themselves; arrays are their dtype, shape and a digest of
    their bytes (small ones list their values); PRNG keys their key data; sequences and
    mappings their items; a dataclass or named tuple its type and fields; a function its
    name, a digest of its code, its defaults, closure cells and the plain-data globals it
    reads; any other object its type and public attributes, leaving out a `cache` it fills
    as it is used. Memory addresses never enter it.
    """
    if _depth > MAX_DEPTH or id(value) in _path:
        return {"type": _qualname(type(value))}
    path = (*_path, id(value))
    nested = functools.partial(describe, _depth=_depth + 1, _path=path)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.generic):
        return nested(value.item())
    if _is_key(value):
        return {"key": nested(jax.random.key_data(value))}
    if isinstance(value, (np.ndarray, jax.Array)):
        array = np.asarray(value)
        described = {"array": f"{array.dtype}{list(array.shape)}",
                     "sha256": _digest(np.ascontiguousarray(array).tobytes())}
        if array.size <= 8:
            described["values"] = [repr(x) for x in array.reshape(-1).tolist()]
        return described
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": _qualname(type(value)),
                **{f.name: nested(getattr(value, f.name, None)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"type": _qualname(type(value)),
                **{name: nested(item) for name, item in zip(value._fields, value)}}
    if isinstance(value, (list, tuple)):
        return [nested(item) for item in value]
    if isinstance(value, dict):
        return {str(k): nested(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, functools.partial):
        return {"partial": nested(value.func), "args": nested(value.args),
                "keywords": nested(value.keywords)}
    if isinstance(value, types.MethodType):
        return {"method": _qualname(value.__func__), "self": nested(value.__self__)}
    if isinstance(value, types.FunctionType):
        return _describe_function(value, nested)
    if isinstance(value, (type, types.ModuleType, types.BuiltinFunctionType)):
        return {"name": getattr(value, "__name__", "?"), "of": _qualname(value)}
    attributes = getattr(value, "__dict__", {})
    public = {k: v for k, v in attributes.items() if not k.startswith("_") and k != "cache"}
    own_code = sorted(
        (name, _code_digest(f.__code__)) for name, f in vars(type(value)).items()
        if isinstance(f, types.FunctionType)
    )
    return {"type": _qualname(type(value)), "code": nested(own_code),
            "attributes": nested(public)}


def _describe_function(fn: types.FunctionType, nested: Any) -> dict[str, Any]:
    code = fn.__code__
    data_globals = {
        name: fn.__globals__[name] for name in code.co_names
        if name in fn.__globals__ and isinstance(
            fn.__globals__[name], (bool, int, float, str, tuple, np.ndarray, np.generic)
        )
    }
    helpers = {
        name: fn.__globals__[name] for name in code.co_names
        if isinstance(fn.__globals__.get(name), types.FunctionType)
        and fn.__globals__[name].__module__ == fn.__module__
    }
    return {
        "function": _qualname(fn),
        "code": _code_digest(code),
        "defaults": nested(fn.__defaults__),
        "kwdefaults": nested(fn.__kwdefaults__),
        "closure": nested([cell.cell_contents for cell in fn.__closure__ or ()]),
        "globals": nested(data_globals),
        "helpers": nested(helpers),
    }


def fingerprint(run: Any) -> str:
    """A short digest of a run description (`describe`'s output)."""
    return _digest(json.dumps(run, sort_keys=True).encode())


def differences(saved: Any, current: Any, where: str = "") -> list[str]:
    """Where two descriptions differ: one line per differing leaf, `where` leading."""
    if isinstance(saved, dict) and isinstance(current, dict):
        lines = []
        for name in sorted(set(saved) | set(current)):
            place = f"{where}.{name}" if where else name
            if name not in saved or name not in current:
                lines.append(f"{place}: only in the {'run' if name in current else 'file'}")
            else:
                lines += differences(saved[name], current[name], place)
        return lines
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        return [line for i, (a, b) in enumerate(zip(saved, current))
                for line in differences(a, b, f"{where}[{i}]")]
    if saved != current:
        return [f"{where}: {json.dumps(saved)[:80]} in the file, {json.dumps(current)[:80]} now"]
    return []


def save_checkpoint(
    path: str | os.PathLike,
    state: Any,
    history: dict[str, np.ndarray],
    generation: int,
    run: Any,
) -> None:
    """Write `state` (any pytree of arrays), `history` and `generation` to `path` atomically.

    `run` (JSON-ready, e.g. from `describe`) identifies the run; `load_checkpoint` refuses
    a file written with another one.
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
        "run": run,
        "fingerprint": fingerprint(run),
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


def load_checkpoint(path: str | os.PathLike, template: Any, run: Any = None) -> Checkpoint:
    """Read the checkpoint at `path` into the structure of `template` (a state pytree of the
    same run, e.g. `algorithm.init(key)`). A `run` of None accepts any run's file.

    Raises CheckpointError, leaving the file in place, when it is unreadable (truncated or
    corrupted), was written by another run (a different `run` description: the message
    lists where they differ), or holds arrays whose shapes or dtypes differ from the
    template's.
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
    if run is not None and header["fingerprint"] != fingerprint(run):
        lines = differences(header["run"], run) or ["(the descriptions' digests differ)"]
        more = f"\n  ... and {len(lines) - 6} more" if len(lines) > 6 else ""
        shown = "\n  ".join(lines[:6]) + more
        raise CheckpointError(
            f"checkpoint {path} belongs to another run; the file was left as it is. "
            f"It differs in:\n  {shown}"
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
        run=header["run"],
    )
