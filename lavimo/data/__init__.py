"""Dataset readers, synthetic dataset, motion features, manifest and the Ray Data pipeline."""
