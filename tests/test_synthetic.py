"""Tests of the synthetic dataset generator: determinism, HumanML3D layout, captions, mirrors, splits and kinematics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lavimo.data.datasets import DATASET_SPECS, ClipRules, index_split, load_statistics, usable_captions
from lavimo.data.features import joints_to_features
from lavimo.data.skip_report import SkipReport
from lavimo.data.synthetic import generate_motion, generate_synthetic_dataset
from lavimo.data.synthetic_body import MIRROR_JOINTS
from lavimo.skeleton import HUMANML3D

FPS = HUMANML3D.fps
POS_TAGS = {"NOUN", "VERB", "ADV", "ADJ", "ADP", "DET", "NUM", "PRON", "CCONJ", "AUX"}


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """60 originals (120 motions with mirrors), seed 0."""
    root = tmp_path_factory.mktemp("big")
    generate_synthetic_dataset(root, num_motions=60, seed=0)
    return root


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """24 originals written twice with seed 0, and once with seed 1."""
    roots = [tmp_path_factory.mktemp(name) for name in ("a", "b", "c")]
    for root, seed in zip(roots, (0, 0, 1)):
        generate_synthetic_dataset(root, num_motions=24, seed=seed)
    return tuple(roots)


def _hashes(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _ids(root: Path, split: str) -> list[str]:
    return (root / f"{split}.txt").read_text().split()


def _meta(root: Path) -> dict:
    return json.loads((root / "synthetic_meta.json").read_text())["motions"]


def _caption_lines(root: Path, motion_id: str) -> list[str]:
    return (root / "texts" / f"{motion_id}.txt").read_text().splitlines()


def test_same_seed_writes_byte_identical_files(small_pair):
    first, second, _ = small_pair
    hashes = _hashes(first)
    assert len(hashes) == 3 * 48 + 7  # joints, features, texts per motion; 4 split lists, Mean, Std, meta
    assert hashes == _hashes(second)


def test_different_seed_writes_different_files(small_pair):
    first, _, other = small_pair
    a, c = _hashes(first), _hashes(other)
    assert a.keys() == c.keys()
    assert a["new_joints/000000.npy"] != c["new_joints/000000.npy"]
    assert sum(a[k] != c[k] for k in a if k.startswith("texts/")) > 40
    assert a["Mean.npy"] != c["Mean.npy"]


def test_motion_depends_only_on_seed_and_index(big, small_pair):
    first = small_pair[0]
    for motion_id in ("000005", "M000017"):
        path = Path("new_joints", f"{motion_id}.npy")
        assert (big / path).read_bytes() == (first / path).read_bytes()
    alone = generate_motion(seed=0, index=5)
    np.testing.assert_array_equal(alone.joints, np.load(big / "new_joints" / "000005.npy"))


def test_layout_shapes_and_durations(big):
    ids, meta = _ids(big, "all"), _meta(big)
    assert len(ids) == 120 and ids == sorted(ids) == sorted(meta)
    for motion_id in ids:
        joints = np.load(big / "new_joints" / f"{motion_id}.npy")
        assert meta[motion_id]["frames"] == len(joints)
        features = np.load(big / "new_joint_vecs" / f"{motion_id}.npy")
        assert joints.dtype == np.float32 and features.dtype == np.float32
        assert joints.shape[1:] == (22, 3) and features.shape == (len(joints) - 1, 263)
        assert 2.0 <= len(joints) / FPS <= 10.0
        assert np.isfinite(features).all() and abs(joints[..., 1].min()) < 1e-6  # standing on the floor
    np.testing.assert_allclose(
        np.load(big / "new_joint_vecs" / "000003.npy"),
        joints_to_features(np.load(big / "new_joints" / "000003.npy"), HUMANML3D),
    )


def test_caption_lines_parse_and_fit_the_clip(big):
    for motion_id in _ids(big, "all"):
        frames = len(np.load(big / "new_joints" / f"{motion_id}.npy"))
        lines = _caption_lines(big, motion_id)
        assert len(lines) >= 3
        for line in lines:
            text, tokens, start, end = line.split("#")
            assert text and text == text.lower()
            assert all(token.count("/") == 1 and token.split("/")[1] in POS_TAGS for token in tokens.split()), tokens
            assert 0.0 <= float(start) <= float(end) <= frames / FPS
            assert (float(start), float(end)) == (0.0, 0.0) or (float(end) - float(start)) * FPS >= 40


def test_the_dataset_reader_accepts_everything(big):
    spec, report = DATASET_SPECS["synthetic"], SkipReport()
    items = [item for split in ("train", "val", "test") for item in index_split(str(big), split, report)]
    for item in items:
        frames = len(np.load(item.feature_path))
        assert usable_captions(item, frames, spec, ClipRules(40, 200), report) == item.captions
    load_statistics(str(big), spec)
    assert len(items) == 120 and report.skips == []


def test_actions_and_sequences(big):
    meta = _meta(big)
    originals = {k: v for k, v in meta.items() if not k.startswith("M")}
    actions = {s["action"] for m in originals.values() for s in m["segments"]}
    assert len(actions) >= 15, actions
    composed = [k for k, m in originals.items() if len(m["segments"]) > 1]
    assert 0.15 <= len(composed) / len(originals) <= 0.55
    for m in meta.values():
        bounds = [(s["start"], s["end"]) for s in m["segments"]]
        assert bounds[0][0] == 0 and bounds[-1][1] == m["frames"]
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    for motion_id in composed:  # whole-sequence captions say "then"; one windowed caption per segment
        fields = [line.split("#") for line in _caption_lines(big, motion_id)]
        assert all(" then " in f[0] for f in fields if f[2:] == ["0.0", "0.0"])
        windows = [(round(float(f[2]) * FPS), round(float(f[3]) * FPS)) for f in fields if f[2:] != ["0.0", "0.0"]]
        assert windows == [(s["start"], s["end"]) for s in meta[motion_id]["segments"]]


def test_mirrors_reflect_joints_and_captions(big):
    meta = _meta(big)
    for motion_id in [k for k in meta if not k.startswith("M")]:
        original = np.load(big / "new_joints" / f"{motion_id}.npy")
        mirror = np.load(big / "new_joints" / f"M{motion_id}.npy")
        np.testing.assert_array_equal(mirror, original[:, list(MIRROR_JOINTS)] * np.array([-1, 1, 1], np.float32))
        assert meta[f"M{motion_id}"]["mirror_of"] == motion_id
        for line, mirrored in zip(_caption_lines(big, motion_id), _caption_lines(big, f"M{motion_id}"), strict=True):
            text, mirrored_text = line.split("#")[0].split(), mirrored.split("#")[0].split()
            assert text.count("left") == mirrored_text.count("right")
            assert text.count("right") == mirrored_text.count("left")
            assert line.split("#")[2:] == mirrored.split("#")[2:]
    sides = [s["params"]["side"] for m in meta.values() for s in m["segments"] if "side" in s["params"]]
    assert "left" in sides and "right" in sides


def test_bone_lengths_are_constant(big):
    bones = np.array(HUMANML3D.bones)  # (J-1, 2) parent, child
    for path in sorted((big / "new_joints").glob("*.npy")):
        joints = np.load(path).astype(np.float64)
        lengths = np.linalg.norm(joints[:, bones[:, 1]] - joints[:, bones[:, 0]], axis=-1)  # (T, J-1)
        assert np.abs(lengths - lengths[0]).max() < 1e-5, path.name


def test_body_heights_vary_within_range(big):
    heights = [m["body"]["height"] for m in _meta(big).values()]
    assert 1.5 <= min(heights) and max(heights) <= 1.95 and np.std(heights) > 0.05


def test_splits_are_disjoint_cover_all_and_keep_mirrors_together(big):
    splits = {name: set(_ids(big, name)) for name in ("train", "val", "test")}
    assert sum(len(s) for s in splits.values()) == len(set().union(*splits.values()))
    assert set().union(*splits.values()) == set(_ids(big, "all"))
    assert {name: len(s) // 2 for name, s in splits.items()} == {"train": 48, "val": 3, "test": 9}
    for ids in splits.values():
        assert {i.removeprefix("M") for i in ids} == {i for i in ids if not i.startswith("M")}


def test_captions_are_shared_between_different_motions(big):
    owners: dict[str, set[str]] = {}
    for motion_id in [i for i in _ids(big, "all") if not i.startswith("M")]:
        for line in _caption_lines(big, motion_id):
            owners.setdefault(line.split("#")[0], set()).add(motion_id)
    assert sum(len(o) >= 2 for o in owners.values()) >= 5


def test_statistics_are_over_the_train_split_with_a_floor(big):
    train = np.concatenate([np.load(big / "new_joint_vecs" / f"{i}.npy") for i in _ids(big, "train")])
    train = train.astype(np.float64)
    std = train.std(axis=0)
    np.testing.assert_allclose(np.load(big / "Mean.npy"), train.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(big / "Std.npy"), np.maximum(std, 1e-2 * std.mean()), rtol=1e-5, atol=1e-6)


def test_summary_counts_what_was_written(tmp_path):
    summary = generate_synthetic_dataset(tmp_path, num_motions=3, seed=7)
    lines = sum(len(_caption_lines(tmp_path, i)) for i in _ids(tmp_path, "all"))
    assert summary.num_motions == 6 and summary.num_captions == lines
    assert summary.split_counts == {"train": 2, "val": 2, "test": 2}
    assert summary.actions == tuple(sorted({s["action"] for m in _meta(tmp_path).values() for s in m["segments"]}))


@pytest.mark.parametrize("arguments", [{"num_motions": 2, "seed": 0}, {"num_motions": 10, "seed": -1}])
def test_bad_arguments_are_refused(tmp_path, arguments):
    with pytest.raises(ValueError, match="num_motions|seed"):
        generate_synthetic_dataset(tmp_path, **arguments)
