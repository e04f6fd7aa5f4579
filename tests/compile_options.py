"""XLA options for test programs that run for milliseconds but take seconds to compile."""

# XLA's quick-compile mode: no backend optimisation and none of LLVM's expensive passes.
# It compiles such programs two to three times faster; they then run slower, which costs
# little where they run briefly.
QUICK = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
