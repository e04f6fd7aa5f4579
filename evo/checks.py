"""Checks of user input shared by algorithms, problems and metrics; NumPy only.

Every setting an algorithm or problem takes goes through one of these, so a bad value
gets the same kind of message wherever it is given: the setting's name, what it must be,
and what it was. Settings classes are keyword-only (`settings_class`), so a misplaced
positional argument or a renamed setting fails at the call with the names to use.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """`value` as a Python int; ValueError unless it is an integer (not a bool, float or
    string) of at least `minimum`. `name` says whose setting it is, e.g. "NSGA2: pop_size"."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(
    name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
    open_low: bool = False,
) -> float:
    """`value` as a Python float; ValueError unless it is a real number in `[low, high]`
    (`(low, high]` with `open_low`). NaN is never accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (value > low if open_low else value >= low) or not value <= high:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def as_bounds(lb: Any, ub: Any, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Validated float copies of box bounds `lb`, `ub` `(n_var,)`.

    Raises ValueError when they are not matching 1-D arrays of finite numbers with lb <= ub.
    """
    prefix = f"{name}: " if name else ""
    try:
        lb = np.asarray(lb, dtype=float)
        ub = np.asarray(ub, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{prefix}lb and ub must be arrays of numbers, got {lb!r} and {ub!r}")
    if lb.ndim != 1 or lb.shape != ub.shape or lb.size == 0:
        raise ValueError(
            f"{prefix}lb and ub must be 1-D arrays of the same length, got shapes "
            f"{lb.shape} and {ub.shape}"
        )
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        raise ValueError(f"{prefix}lb and ub must be finite")
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"{prefix}lb > ub in {bad.size} variable(s), first at index {i}: "
            f"lb={lb[i]} > ub={ub[i]}"
        )
    return lb, ub


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """`value` when it is one of `choices`; ValueError listing them otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_unused(settings: Any, names: tuple[str, ...], why: str) -> None:
    """Raise ValueError when a setting in `names` (fields `settings` inherits but does not
    use) was given a value other than its default; `why` says what is used instead."""
    fields = settings.__dataclass_fields__
    changed = [name for name in names if getattr(settings, name) != fields[name].default]
    if changed:
        raise ValueError(f"{type(settings).__name__} does not use {', '.join(changed)}: {why}")


def settings_class(
    cls: type[T] | None = None, *, eq: bool = False, renamed: Mapping[str, str] | None = None
) -> Any:
    """Decorator: a frozen, keyword-only dataclass whose constructor explains its misuse.

    Positional arguments raise TypeError naming the keywords to use; a keyword listed in
    `renamed` (old name -> what to use now) raises TypeError saying what to use, and any
    other unknown keyword one listing the settings there are. With `eq=False`
    instances compare and hash by identity (safe as a `jit` static argument even when they
    hold arrays); with `eq=True` by their fields.
    """

    def decorate(cls: type[T]) -> type[T]:
        cls = dataclasses.dataclass(frozen=True, eq=eq, kw_only=True)(cls)
        old_names = {**getattr(cls, "_renamed", {}), **(renamed or {})}
        cls._renamed = old_names
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            fields = [f for f in dataclasses.fields(cls) if f.init]
            settings = ", ".join(f.name for f in fields)
            if args:
                required = [
                    f"{f.name}=..." for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                ]
                example = f", e.g. {cls.__name__}({', '.join(required)})" if required else ""
                raise TypeError(
                    f"{cls.__name__} takes keyword arguments only{example}; its settings are "
                    f"{settings}; got {len(args)} positional"
                )
            for old, new in old_names.items():
                if old in kwargs:
                    raise TypeError(f"{cls.__name__}: {old} was renamed; use {new} instead")
            unknown = sorted(set(kwargs) - {f.name for f in fields})
            if unknown:
                raise TypeError(
                    f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}; its "
                    f"settings are {settings}"
                )
            init(self, **kwargs)

        cls.__init__ = __init__
        return cls

    return decorate if cls is None else decorate(cls)


def frozen_setattr(obj: Any, **fields: Any) -> None:
    """Set fields of a frozen dataclass during `__post_init__`."""
    for name, value in fields.items():
        object.__setattr__(obj, name, value)

