"""Readers on small HumanML3D and KIT-ML folders: splits, captions with windows, mirrored ids, clip rules."""

import numpy as np
import pytest

from lavimo.data.datasets import (
    DATASET_SPECS,
    ClipRules,
    DatasetError,
    index_split,
    load_features,
    load_statistics,
    parse_caption_line,
    usable_captions,
)
from lavimo.data.skip_report import SkipReport
from lavimo.skeleton import HUMANML3D, KIT
from tests.folders import write_dataset

HUMANML3D_CAPTIONS = {
    "000001": [
        "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
        "someone waves with the left hand#someone/PRON wave/VERB#1.0#2.5",
    ],
    "M000001": [
        "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
        "someone waves with the right hand#someone/PRON wave/VERB#1.0#2.5",
    ],
    "000002": ["a man jumps#a/DET man/NOUN jump/VERB#nan#nan"],
}


@pytest.fixture
def humanml3d_folder(tmp_path):
    splits = {"train": ["000001", "M000001"], "test": ["000002"]}
    return write_dataset(tmp_path / "HumanML3D", HUMANML3D, HUMANML3D_CAPTIONS, splits, num_frames=60)


@pytest.fixture
def kit_folder(tmp_path):
    captions = {
        "00017": ["a person kicks#a/DET person/NOUN kick/VERB#0.0#0.0"],
        "M00017": ["a person kicks#a/DET person/NOUN kick/VERB#0.0#0.0"],
    }
    return write_dataset(tmp_path / "KIT-ML", KIT, captions, {"train": ["00017", "M00017"]}, num_frames=30)


def test_humanml3d_folder_is_indexed_with_mirrors_and_windows(humanml3d_folder):
    report = SkipReport()
    items = index_split(str(humanml3d_folder), "train", report)
    assert [i.id for i in items] == ["000001", "M000001"]
    wave = items[0].captions[1]
    assert (wave.start, wave.end, wave.whole_clip) == (1.0, 2.5, False)
    assert wave.frame_window(60, HUMANML3D.fps) == (20, 50)
    assert items[1].captions[1].text == "someone waves with the right hand"
    assert report.skips == []


def test_nan_window_means_whole_clip(humanml3d_folder):
    (item,) = index_split(str(humanml3d_folder), "test", SkipReport())
    assert item.captions[0].whole_clip
    assert item.captions[0].frame_window(60, 20.0) == (0, 60)


def test_kit_folder_reads_251_dim_features_at_12_5_fps(kit_folder):
    spec = DATASET_SPECS["kit"]
    items = index_split(str(kit_folder), "train", SkipReport())
    features = load_features(items[0].feature_path, spec)
    assert features.shape == (30, 251)
    assert spec.fps == 12.5 and spec.min_motion_frames == 24
    assert load_statistics(str(kit_folder), spec)[0].endswith("Mean.npy")


def test_clip_rules_follow_the_original_loaders():
    rules = ClipRules(min_frames=40, shorter_than=200)
    assert [rules.accepts(n) for n in (39, 40, 199, 200)] == [False, True, True, False]
    assert ClipRules(40, None).accepts(5000)


def test_short_caption_windows_are_counted_skips(humanml3d_folder):
    spec = DATASET_SPECS["humanml3d"]
    (item, _) = index_split(str(humanml3d_folder), "train", SkipReport())
    report = SkipReport()
    kept = usable_captions(item, 60, spec, ClipRules(min_frames=40, shorter_than=200), report)
    assert [c.text for c in kept] == ["a person walks forward."]  # the 30-frame wave window is too short
    assert report.counts() == {"caption: caption window too short or too long": 1}
    kept = usable_captions(item, 60, spec, ClipRules(min_frames=20, shorter_than=200), SkipReport())
    assert len(kept) == 2


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("#tokens#0.0#0.0", "empty caption"),
        ("   #x/NOUN#0.0#0.0", "empty caption"),
        ("a person walks#a/DET#0.0", "expected 4 '#'-separated fields, got 3"),
        ("a person walks#a/DET#zero#1.0", "start/end are not numbers"),
        ("a person walks#a/DET#3.0#1.0", "bad window"),
    ],
)
def test_malformed_caption_lines_say_what_is_wrong(line, problem):
    with pytest.raises(ValueError, match=problem):
        parse_caption_line(line)


def test_missing_statistics_are_an_error_naming_the_file(humanml3d_folder):
    (humanml3d_folder / "Std.npy").unlink()
    with pytest.raises(DatasetError, match="Std.npy: normalisation statistics not found"):
        load_statistics(str(humanml3d_folder), DATASET_SPECS["humanml3d"])


def test_non_positive_std_is_an_error(humanml3d_folder):
    np.save(humanml3d_folder / "Std.npy", np.zeros(263, np.float32))
    with pytest.raises(DatasetError, match="must be positive"):
        load_statistics(str(humanml3d_folder), DATASET_SPECS["humanml3d"])
