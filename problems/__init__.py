"""Benchmark problems: batched, jittable, minimisation."""

from evo.problems.base import Problem

__all__ = ["Problem"]
