"""Test-session settings that must be in place before NumPy is imported."""

import os

# OpenBLAS's threads compete with XLA's for the few cores of a CI machine: small
# triangular solves in the GP tests ran up to 40x slower with them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
