"""A folder shaped like HumanML3D (lengths outside 40-200 frames, mirrored M-ids, captions with time windows)
prepared and evaluated on the session's Ray cluster: the whole test split is the gallery, the train split keeps the
original loaders' rules (counted), mirrors pair up, and results.md holds the paper's published rows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from lavimo.checkpoint import save_checkpoint
from lavimo.config import load_config
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.data.samples import stream_table, unmirrored_count
from lavimo.eval.evaluate import evaluate_checkpoint
from lavimo.models import LavimoModel
from lavimo.prepare.dataset import prepare_dataset
from lavimo.skeleton import HUMANML3D
from tests.folders import write_dataset

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

WHOLE = "a person walks forward and turns#a/DET person/NOUN#0.0#0.0"
WINDOWED = "a person waves the left hand#a/DET#0.5#1.5"  # 20 frames: shorter than the 40 of the loaders
LENGTHS = {  # frames; 30 and 230 are outside the original loaders' [40, 200)
    "000001": 60,
    "M000001": 60,
    "000002": 30,
    "000003": 230,
    "000004": 60,  # train (000004 has no mirror)
    "000005": 60,
    "M000005": 60,  # val
    "000010": 30,
    "M000010": 30,
    "000011": 230,
    "M000011": 230,
    "000012": 60,
    "M000012": 60,
    "000013": 80,  # test
}
SPLITS = {
    "train": ["000001", "M000001", "000002", "000003", "000004"],
    "val": ["000005", "M000005"],
    "test": ["000010", "M000010", "000011", "M000011", "000012", "M000012", "000013"],
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, ray_cluster):
    root = tmp_path_factory.mktemp("humanml3d")
    captions = {motion_id: [WHOLE] for motion_id in LENGTHS}
    captions["000012"] = [WINDOWED, WHOLE]  # its first caption, with its window, is the test pair's
    captions["M000012"] = [WINDOWED.replace("left", "right"), WHOLE]
    write_dataset(root / "HumanML3D", HUMANML3D, captions, SPLITS, num_frames=LENGTHS)
    (root / "nsim_test.txt").write_text("000010\n000011\n000013\n")
    sets = [
        "data.dataset=humanml3d",
        f"data.root={root / 'HumanML3D'}",
        f"data.prepared={root / 'prepared'}",
        "render.resolution=32",
        "prepare.render_cpus=0.5",
        f"eval.dissimilar_ids={root / 'nsim_test.txt'}",
        f"train.storage_path={root / 'runs'}",
    ]
    config = load_config(REPO / "ray_configs" / "smoke.yaml", sets)
    return config, prepare_dataset(config)


def test_the_test_split_is_whole_and_train_keeps_the_length_rules_counted(prepared):
    config, summary = prepared
    ids = {split: read_manifest(manifest_path(config.data.prepared, split))[0]["id"].to_pylist() for split in SPLITS}
    assert sorted(ids["test"]) == sorted(SPLITS["test"])  # 30 and 230 frames included
    assert sorted(ids["train"]) == ["000001", "000004", "M000001"]
    dropped = [s for s in summary.report.skips if s.reason == "motion too short or too long"]
    assert sorted(Path(s.location).stem for s in dropped) == ["000002", "000003"]  # counted, named
    test = read_manifest(manifest_path(config.data.prepared, "test"))[0].to_pylist()
    windowed = next(row for row in test if row["id"] == "000012")
    assert windowed["captions"][0] == WINDOWED.split("#")[0] and windowed["caption_end"][0] == 1.5


def test_mirrors_pair_up_within_the_split(prepared):
    config, _ = prepared
    table = stream_table(read_manifest(manifest_path(config.data.prepared, "train"))[0])
    mirrors = dict(zip(table["id"].to_pylist(), table["mirror_id"].to_pylist()))
    assert mirrors == {"000001": "M000001", "M000001": "000001", "000004": ""} and unmirrored_count(table) == 1


def test_a_humanml3d_evaluation_shows_the_papers_rows_the_whole_gallery_and_its_crops(prepared, tmp_path):
    config, _ = prepared
    torch.manual_seed(0)
    model = LavimoModel(config.model)
    folder = save_checkpoint(tmp_path / "checkpoint_1", model, {}, config, {"epoch": 0})
    evaluation = evaluate_checkpoint(
        str(folder), config.data.prepared, "test", str(tmp_path / "evaluation"), workers=1, cpus_per_worker=0.5
    )
    markdown = (tmp_path / "evaluation" / "results.md").read_text()
    for row in ("| TMR |", "| LAVIMO (3-modal) |", "| LAVIMO (2-modal) |", "| TEMOS |", "| LAVIMO-on-Ray (ours) |"):
        assert row in markdown, row
    assert "Video-motion retrieval" in markdown and "(e) Exact-caption pairs" in markdown
    assert markdown.count("| LAVIMO-on-Ray (ours), held-out style |") == 5  # beside video-motion, every protocol
    assert "Held-out style: the same 7 pairs" in markdown
    assert "Gallery: 7 pairs, the whole split" in markdown
    assert "2 motions have a window longer than 196 frames" in markdown  # 000011 and M000011, 230 frames
    assert f"the ids of {config.eval.dissimilar_ids}" in markdown
    assert "lavimo_paper_tables.json" in markdown
    document = json.loads((tmp_path / "evaluation" / "results.json").read_text())
    assert list(document["protocols"]) == ["all", "threshold_0.95", "threshold_0.8", "dissimilar", "exact_caption"]
    assert document["dissimilar_ids"] == config.eval.dissimilar_ids
    assert document["held_out_style"]["skipped"] == "" and set(document["held_out_style"]["protocols"]["all"]) == {
        "v2m",
        "m2v",
    }
    assert evaluation.protocols.dissimilar_ids == ["000010", "000011", "000013"]
    assert dataclasses.asdict(evaluation.protocols)["notes"][-1].startswith("Rows of other methods")
