"""evo: evolutionary and black-box optimization as batched JAX tensor programs."""

from evo.ref_dirs import das_dennis, reference_directions, two_layer

__all__ = ["das_dennis", "reference_directions", "two_layer"]
