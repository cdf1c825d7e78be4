"""Training runs: run folders, the metrics table, exact-resume checkpoints, stop guards and device
settings."""
