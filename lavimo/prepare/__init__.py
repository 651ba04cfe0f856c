"""Data preparation: a dataset folder checked, its motions rendered into videos and its captions embedded, into a
prepared folder of Parquet manifests (orchestrates lavimo.data and lavimo.render on Ray Data)."""
