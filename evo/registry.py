"""Every algorithm, by name: the one list that `evo.NAME`, `evo list`, `evo run`, the
README's algorithm table and the tests read.

A new algorithm is one module on its family's base plus one line in `ALGORITHMS`. A name
is imported only when it is used, so an algorithm with an optional dependency (the
Bayesian optimisers need optax) costs nothing to the others.

`evo list --markdown README.md` rewrites the algorithm table of the README (between the
`<!-- algorithms -->` markers) from the classes' own docstrings.
"""

from __future__ import annotations

import importlib
import inspect

ALGORITHMS: dict[str, str] = {
    "nsga2": "evo.nsga2:NSGA2",
    "nsga3": "evo.nsga3:NSGA3",
    "unsga3": "evo.nsga3:UNSGA3",
    "moead": "evo.moead:MOEAD",
    "moead-de": "evo.moead_de:MOEADDE",
    "hype": "evo.hype:HypE",
    "rvea": "evo.rvea:RVEA",
    "smsemoa": "evo.smsemoa:SMSEMOA",
    "spea2": "evo.spea2:SPEA2",
    "agemoea2": "evo.agemoea2:AGEMOEA2",
    "gde3": "evo.gde3:GDE3",
    "smpso": "evo.smpso:SMPSO",
    "lmocso": "evo.lmocso:LMOCSO",
    "mocmaes": "evo.mocmaes:MOCMAES",
    "ibea": "evo.ibea:IBEA",
    "cmaes": "evo.cmaes:CMAES",
    "sep-cmaes": "evo.cmaes:SepCMAES",
    "evosax": "evo.evosax_bridge:EvosaxAlgorithm",
    "bayesopt": "evo.bo.bo:BayesOpt",
    "turbo": "evo.bo.turbo:Turbo",
}
"""Command-line name -> "module:class"."""

TABLE_START = "<!-- algorithms -->"
TABLE_END = "<!-- /algorithms -->"


def algorithm_class(name: str) -> type:
    """The algorithm class registered as `name` (case-insensitive, e.g. "nsga2").

    Raises ValueError listing the known names when there is none.
    """
    try:
        module, _, attribute = ALGORITHMS[name.lower()].partition(":")
    except KeyError:
        raise ValueError(
            f"unknown algorithm {name!r}; known algorithms: {', '.join(ALGORITHMS)}"
        ) from None
    return getattr(importlib.import_module(module), attribute)


def class_names() -> dict[str, str]:
    """Class name -> registered name, e.g. "NSGA2" -> "nsga2"."""
    return {target.partition(":")[2]: name for name, target in ALGORITHMS.items()}


def summary(cls: type) -> str:
    """The first paragraph of `cls`'s docstring on one line."""
    return " ".join(inspect.getdoc(cls).split("\n\n")[0].split())


def markdown_table() -> str:
    """The README's algorithm table: name, class, objectives, constraints, paper, the
    reference implementation whose defaults it takes, summary."""
    rows = ["| `evo run` name | class | objectives | constraints | paper | reference | what |",
            "|---|---|---|---|---|---|---|"]
    for name in ALGORITHMS:
        cls = algorithm_class(name)
        objectives = "1" if cls.single_objective else "any"
        constraints = "yes" if cls.takes_constraints else "no"
        rows.append(f"| `{name}` | `evo.{cls.__name__}` | {objectives} | {constraints} | "
                    f"{cls.paper} | {cls.reference} | {summary(cls)} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """`text` with the part between the table markers replaced by `markdown_table()`."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return f"{text[:start]}\n{markdown_table()}\n{text[end:]}"

