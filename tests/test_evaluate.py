"""Checks of a checkpoint against the data it is asked to evaluate, before any embedding or output; and an
evaluation's held-out style rows, its embeddings computed here by the code the Ray actors run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lavimo.cli import DEFAULT_CONFIG
from lavimo.config import load_config
from lavimo.data.manifest import ManifestInfo, held_out_split, manifest_path, read_manifest
from lavimo.data.samples import SampleBuilder, manifest_batch, stream_table
from lavimo.eval.evaluate import (
    CheckpointEmbedder,
    HeldOutVideos,
    check_compatible,
    embed_held_out,
    evaluate_embeddings,
    split_embeddings,
)
from lavimo.sample_streams import builder_arguments
from lavimo.skeleton import HUMANML3D
from tests.folders import prepare_here, write_dataset
from tests.looks import CPU_DEMO


def manifest_info(feature_dim: int) -> ManifestInfo:
    return ManifestInfo(
        dataset="kit",
        skeleton="kit",
        feature_dim=feature_dim,
        fps=12.5,
        mean_path="Mean.npy",
        std_path="Std.npy",
        sentence_model="",
        embedding_dim=384,
    )


def test_a_checkpoint_for_other_motion_features_is_refused_by_name():
    config = load_config(DEFAULT_CONFIG)  # cpu_demo: HumanML3D's 263-dim features
    check_compatible(config, manifest_info(263), "runs/a/checkpoint_1", "prepared/manifest/test.parquet")
    with pytest.raises(ValueError, match=r"runs/a/checkpoint_1: .*263-dim .*test.parquet \(kit\) has 251-dim"):
        check_compatible(config, manifest_info(251), "runs/a/checkpoint_1", "prepared/manifest/test.parquet")


CAPTION = "a person walks forward#a/DET person/NOUN#0.0#0.0"
SPLITS = {"train": ["000001", "M000001"], "val": ["000002"], "test": ["000003", "M000003", "000004", "M000004"]}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A tiny random cpu_demo model evaluated on a small prepared folder (held-out style on), embedded here by the
    code the Ray actors run: (evaluation, its checkpoint folder, the prepared config, in-domain and held-out)."""
    import torch

    from lavimo.checkpoint import save_checkpoint
    from lavimo.models import LavimoModel

    tmp = tmp_path_factory.mktemp("evaluate")
    root = write_dataset(
        tmp / "data", HUMANML3D, {i: [CAPTION] for ids in SPLITS.values() for i in ids}, SPLITS, num_frames=30
    )
    config, _ = prepare_here(root, tmp / "prepared")
    torch.manual_seed(0)
    folder = str(save_checkpoint(tmp / "checkpoint_1", LavimoModel(config.model), {}, config, {"epoch": 0}))
    test, held_out = (_embedded_here(folder, config, name) for name in ("test", held_out_split("test")))
    videos = HeldOutVideos(manifest_path(config.data.prepared, held_out_split("test")), held_out.vectors["video"])
    evaluation = evaluate_embeddings(
        folder,
        "test",
        test,
        videos,
        str(tmp / "evaluation"),
        dissimilar_ids_file=None,
        published=None,
        published_file=None,
    )
    return evaluation, folder, config, test, held_out


def _embedded_here(checkpoint_folder, config, split):
    """embed_split without Ray: the decode tasks' SampleBuilder and the actors' CheckpointEmbedder, in this process."""
    location = manifest_path(config.data.prepared, split)
    table, _ = read_manifest(location)
    samples = SampleBuilder(**builder_arguments(config, split), training=False)(manifest_batch(stream_table(table)))
    return split_embeddings(
        table, [CheckpointEmbedder(checkpoint_folder)(samples)], config.stream.crop_frames, location
    )


def test_an_evaluation_reports_the_held_out_style_beside_the_in_domain_rows(evaluated):
    evaluation, _, _, test, held_out = evaluated
    assert held_out.ids == test.ids and held_out.captions == test.captions  # the same gallery, in the same order
    np.testing.assert_allclose(held_out.vectors["motion"], test.vectors["motion"], atol=1e-5)
    assert np.abs(held_out.vectors["video"] - test.vectors["video"]).max() > 1e-3  # only the videos differ
    markdown = (Path(evaluation.folder) / "results.md").read_text()
    sections = markdown.split("### ")[1:]
    assert len(sections) == 5  # all, both thresholds, dissimilar, exact captions (the small split skips small batches)
    for section in sections:
        video_table = section[section.index("Video-motion retrieval") : section.index("Text-video retrieval")]
        assert "| LAVIMO-on-Ray (ours), held-out style |" in video_table, section[:40]
        assert section.count("held-out style |") == 1  # only beside video-motion
    assert "Held-out style: the same 4 pairs" in markdown and "test_held_out.parquet" in markdown
    document = json.loads((Path(evaluation.folder) / "results.json").read_text())
    rows = document["held_out_style"]
    assert rows["label"] == "held-out style" and rows["skipped"] == ""
    assert rows["manifest"].endswith("manifest/test_held_out.parquet")
    assert list(rows["protocols"]) == list(document["protocols"])
    assert all(set(directions) == {"v2m", "m2v"} for directions in rows["protocols"].values())
    metrics = evaluation.metrics()
    assert metrics["test/held_out_style/all/v2m/R1"] == rows["protocols"]["all"]["v2m"]["R@1"]
    assert "test/all/v2m/R1" in metrics and not any(name.startswith("test/held_out_style/all/t2m") for name in metrics)


def test_the_training_jobs_table_has_the_held_out_rows(evaluated):
    from lavimo.train.job import JobSummary
    from lavimo.train.trainer import TrainingRun

    evaluation = evaluated[0]
    run = TrainingRun("cpu_demo-1", "runs/cpu_demo-1", "sqlite:///runs/mlflow.db", "abc", evaluated[1], {})
    table = JobSummary(run, evaluation).describe()
    for row in ("| t2m |", "| v2m |", "| v2m (held-out style) |", "| m2v (held-out style) |"):
        assert row in table, row


def test_the_held_out_style_is_skipped_with_its_reason(evaluated, tmp_path):
    evaluation, folder, config, test, _ = evaluated
    prepared = config.data.prepared
    two_modal = load_config(CPU_DEMO.with_name("cpu_demo_2modal.yaml"))
    off = load_config(CPU_DEMO, ["render.held_out.enabled=false"])
    reasons = {
        "the model has no video tower": (two_modal, "test"),
        "render.held_out.enabled is false": (off, "test"),
        "only test splits are rendered in it, not 'val'": (config, "val"),
        "no ": (config, "test2"),
    }
    for reason, (model_config, split) in reasons.items():
        skipped = embed_held_out(folder, model_config, prepared, split, test.ids, workers=1, cpus_per_worker=1)
        assert skipped.video is None and skipped.skipped.startswith(reason), skipped.skipped
    none = embed_held_out(folder, two_modal, prepared, "test", test.ids, workers=1, cpus_per_worker=1)
    result = evaluate_embeddings(
        folder, "test", test, none, str(tmp_path), dissimilar_ids_file=None, published=None, published_file=None
    )
    markdown = (tmp_path / "results.md").read_text()
    assert "held-out style |" not in markdown and "Held-out style: skipped, the model has no video tower" in markdown
    assert json.loads((tmp_path / "results.json").read_text())["held_out_style"]["skipped"].startswith("the model")
    assert not any("held_out_style" in name for name in result.metrics())
    assert result.protocols.results == evaluation.protocols.results  # the in-domain rows are the same
