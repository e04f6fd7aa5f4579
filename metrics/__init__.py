"""Quality indicators and plots for multi-objective results."""
