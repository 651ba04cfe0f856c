"""Checks of a checkpoint against the data it is asked to evaluate, before any embedding or output."""

from __future__ import annotations

import pytest

from lavimo.cli import DEFAULT_CONFIG
from lavimo.config import load_config
from lavimo.data.manifest import ManifestInfo
from lavimo.eval.evaluate import check_compatible


def manifest_info(feature_dim: int) -> ManifestInfo:
    return ManifestInfo(dataset="kit", skeleton="kit", feature_dim=feature_dim, fps=12.5, mean_path="Mean.npy",
                        std_path="Std.npy", sentence_model="", embedding_dim=384)


def test_a_checkpoint_for_other_motion_features_is_refused_by_name():
    config = load_config(DEFAULT_CONFIG)  # cpu_demo: HumanML3D's 263-dim features
    check_compatible(config, manifest_info(263), "runs/a/checkpoint_1", "prepared/manifest/test.parquet")
    with pytest.raises(ValueError, match=r"runs/a/checkpoint_1: .*263-dim .*test.parquet \(kit\) has 251-dim"):
        check_compatible(config, manifest_info(251), "runs/a/checkpoint_1", "prepared/manifest/test.parquet")
