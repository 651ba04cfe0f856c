"""The per-worker train loop, optimiser and schedule, checkpoints."""
