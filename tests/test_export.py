"""BVH export of dataset motions, read back with a reader of the tests' own: every joint within 1 cm on every frame
for HumanML3D-layout, KIT-layout and synthetic motions and their mirrors; bad inputs named; nothing half-written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jobs import export as export_job
from lavimo.data.datasets import DATASET_SPECS
from lavimo.data.features import features_to_joints, joints_to_features
from lavimo.data.synthetic import generate_synthetic_dataset
from lavimo.export.bvh import joint_label
from lavimo.export.motions import ExportError, export_motion, motion_joints
from lavimo.skeleton import HUMANML3D, KIT, Skeleton
from tests.bvh_reader import read_bvh
from tests.folders import standing_walk
from tests.looks import CPU_DEMO
from tests.rigid_motions import expected_metres, mirrored, rigid_motion, write_motion

CM = 0.01


def read_back(root, dataset: str, motion_id: str):
    return read_bvh(export_motion(str(root), DATASET_SPECS[dataset], motion_id, "bvh").decode())


def test_the_reader_composes_each_joints_channels_in_their_listed_order():
    text = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Chest
  {
    OFFSET 0 0 1
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.05
1 2 3 90 0 0 0 0 0
1 2 3 0 90 0 0 0 0
1 2 3 90 90 0 0 0 0
"""
    bvh = read_bvh(text)
    assert bvh.names == ["Hips", "Chest"] and bvh.joints[1].parent == 0 and bvh.frame_time == 0.05
    np.testing.assert_allclose(bvh.positions()[:, 1], [[2, 2, 3], [1, 1, 3], [1, 1, 3]], atol=1e-9)  # Ry @ Rx


@pytest.mark.parametrize("skeleton,dataset", [(HUMANML3D, "humanml3d"), (KIT, "kit")], ids=["humanml3d", "kit"])
def test_a_motion_and_its_mirror_come_back_within_a_centimetre_on_every_frame(tmp_path, skeleton, dataset):
    joints = rigid_motion(skeleton, 90, seed=3)
    write_motion(tmp_path, "000007", joints, skeleton)
    write_motion(tmp_path, "M000007", mirrored(joints, skeleton), skeleton)
    for motion_id, source in (("000007", joints), ("M000007", mirrored(joints, skeleton))):
        bvh = read_back(tmp_path, dataset, motion_id)
        assert bvh.names == [joint_label(name) for name in np.array(skeleton.joint_names)[bvh_order(skeleton)]]
        assert len(bvh.values) == len(source) and bvh.frame_time == pytest.approx(1 / skeleton.fps)
        error = np.linalg.norm(bvh.positions() - expected_metres(source, skeleton)[:, bvh_order(skeleton)], axis=-1)
        assert error.max() < CM, f"{motion_id}: {error.max() * 100:.3f} cm"
        parents = [skeleton.parents[j] for j in bvh_order(skeleton)]
        assert [bvh_order(skeleton)[joint.parent] if joint.parent >= 0 else -1 for joint in bvh.joints] == parents
        lengths = np.linalg.norm(source[:, 1:] - source[:, np.array(skeleton.parents[1:])], axis=-1).mean(0)
        offsets = [np.linalg.norm(bvh.joints[bvh_order(skeleton).index(j)].offset) for j in range(1, len(lengths) + 1)]
        np.testing.assert_allclose(offsets, lengths * skeleton.meters_per_unit, rtol=1e-4)  # the motion's bones


def bvh_order(skeleton: Skeleton) -> list[int]:
    """The skeleton's joints in the file's depth-first order (children in index order)."""

    def visit(joint: int) -> list[int]:
        return [joint] + [j for c, p in enumerate(skeleton.parents) if p == joint for j in visit(c)]

    return visit(0)


def test_synthetic_motions_and_their_mirrors_come_back_standing_on_the_floor_facing_forward(tmp_path):
    generate_synthetic_dataset(tmp_path, num_motions=3, seed=5)
    for motion_id in ("000000", "M000000", "000001", "M000001"):
        source = np.load(tmp_path / "new_joints" / f"{motion_id}.npy")
        positions = read_back(tmp_path, "synthetic", motion_id).positions()  # (T, J, 3) file order
        error = np.linalg.norm(positions - expected_metres(source, HUMANML3D)[:, bvh_order(HUMANML3D)], axis=-1)
        assert error.max() < CM, f"{motion_id}: {error.max() * 100:.3f} cm"
        assert positions[..., 1].min() == pytest.approx(0, abs=1e-5)  # on the floor
        np.testing.assert_allclose(positions[0, 0, [0, 2]], 0, atol=1e-5)  # starts at the origin
        left, right = bvh_order(HUMANML3D).index(1), bvh_order(HUMANML3D).index(2)
        across = positions[0, left] - positions[0, right]  # towards the body's left
        assert across[0] > 0 and np.cross(across, [0, 1, 0])[2] > 0  # left at +x, so forward (left x up) is +z


def test_a_dataset_without_joints_files_is_exported_from_its_features(tmp_path):
    joints = rigid_motion(HUMANML3D, 60, seed=9)
    write_motion(tmp_path, "000001", joints, HUMANML3D, with_joints=False)
    decoded = features_to_joints(np.load(tmp_path / "new_joint_vecs" / "000001.npy"), HUMANML3D)  # (T-1, J, 3)
    positions = read_back(tmp_path, "humanml3d", "000001").positions()
    assert len(positions) == len(joints) - 1
    assert np.abs(positions - expected_metres(decoded, HUMANML3D)[:, bvh_order(HUMANML3D)]).max() < CM


def test_joints_as_npy_are_the_positions_the_bvh_holds(tmp_path):
    joints = rigid_motion(KIT, 30, seed=1)
    write_motion(tmp_path, "00001", joints, KIT)
    spec = DATASET_SPECS["kit"]
    out = tmp_path / "out.npy"
    out.write_bytes(export_motion(str(tmp_path), spec, "00001", "npy"))
    array = np.load(out)
    assert array.dtype == np.float32 and array.shape == joints.shape
    np.testing.assert_allclose(
        array,
        motion_joints(str(tmp_path / "new_joint_vecs" / "00001.npy"), str(tmp_path / "new_joints" / "00001.npy"), spec),
    )


def test_bad_motions_are_named(tmp_path):
    joints = rigid_motion(HUMANML3D, 30, seed=2)
    write_motion(tmp_path, "good", joints, HUMANML3D)
    with pytest.raises(ExportError, match=rf"motion 'nope' is not in {tmp_path}"):
        export_motion(str(tmp_path), DATASET_SPECS["humanml3d"], "nope", "bvh")
    bad = joints.copy()
    bad[4, 3] = np.nan
    write_motion(tmp_path, "nan_joints", joints, HUMANML3D)
    np.save(tmp_path / "new_joints" / "nan_joints.npy", bad)
    with pytest.raises(ExportError, match=r"motion 'nan_joints': .*new_joints/nan_joints.npy: NaN"):
        export_motion(str(tmp_path), DATASET_SPECS["humanml3d"], "nan_joints", "bvh")
    features = joints_to_features(joints, HUMANML3D)
    features[2, 5] = np.inf
    np.save(tmp_path / "new_joint_vecs" / "inf_features.npy", features)
    with pytest.raises(ExportError, match=r"motion 'inf_features': .*inf_features.npy: NaN or Inf values in 1 frames"):
        export_motion(str(tmp_path), DATASET_SPECS["humanml3d"], "inf_features", "bvh")
    np.save(tmp_path / "new_joint_vecs" / "empty.npy", np.zeros((0, 263), np.float32))
    with pytest.raises(ExportError, match=r"empty.npy: zero frames"):
        export_motion(str(tmp_path), DATASET_SPECS["humanml3d"], "empty", "bvh")
    np.save(tmp_path / "new_joints" / "good.npy", joints[:, :21])
    with pytest.raises(ExportError, match=r"good.npy: wrong joints shape \(30, 21, 3\)"):
        export_motion(str(tmp_path), DATASET_SPECS["humanml3d"], "good", "bvh")


def test_the_job_writes_every_motion_or_nothing(tmp_path, capsys):
    root = tmp_path / "data"
    for index in range(2):
        write_motion(root, f"00000{index}", rigid_motion(HUMANML3D, 40, seed=index), HUMANML3D)
    settings = ["--config", str(CPU_DEMO), "--set", f"data.root={root}", "--set", "data.dataset=humanml3d"]
    export_job.main([*settings, "--id", "000000", "--out", str(tmp_path / "one.bvh")])
    assert read_bvh((tmp_path / "one.bvh").read_text()).names[0] == "Pelvis"
    export_job.main([*settings, "--id", "000000", "--id", "000001", "--format", "npy", "--out", str(tmp_path / "all")])
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["000000.npy", "000001.npy"]
    with pytest.raises(SystemExit, match=r"export: motion '000009' is not in .*data"):
        export_job.main([*settings, "--id", "000000", "--id", "000009", "--out", str(tmp_path / "some")])
    assert not (tmp_path / "some").exists()  # nothing written when one motion fails
    assert "000000: " in capsys.readouterr().out


def test_a_full_turn_and_a_deep_knee_bend_keep_every_middle_angle_far_from_its_lock(tmp_path):
    """A body turning once about y while both knees bend from straight to 120 degrees: no Euler angle of the file
    nears the +-90 degrees of its middle axis (where the curves of an animation package would flip)."""
    frames = 73
    base = standing_walk(HUMANML3D, 1, seed=0)[0]  # (J, 3) standing in the rest pose
    joints = np.repeat(base[None], frames, axis=0).astype(np.float64)
    bend = np.linspace(0, np.deg2rad(120), frames)
    for knee, ankle, foot in ((4, 7, 10), (5, 8, 11)):
        for joint in (ankle, foot):  # the shin and foot turn about the knee's x axis
            offset = base[joint] - base[knee]
            c, s = np.cos(bend), np.sin(bend)
            joints[:, joint] = base[knee] + np.stack(
                [np.full(frames, offset[0]), c * offset[1] - s * offset[2], s * offset[1] + c * offset[2]], axis=-1
            )
    yaw = np.linspace(0, 2 * np.pi, frames)[:, None]
    x, z = joints[..., 0].copy(), joints[..., 2].copy()
    joints[..., 0], joints[..., 2] = np.cos(yaw) * x + np.sin(yaw) * z, -np.sin(yaw) * x + np.cos(yaw) * z
    write_motion(tmp_path, "000001", joints.astype(np.float32), HUMANML3D)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns on a locked decomposition
        bvh = read_back(tmp_path, "humanml3d", "000001")
    column = 0
    for joint in bvh.joints:
        rotations = [i for i, channel in enumerate(joint.channels) if channel.endswith("rotation")]
        middle = bvh.values[:, column + rotations[1]]
        assert np.abs(middle).max() < 80, (joint.name, joint.channels, np.abs(middle).max())
        column += len(joint.channels)
    error = np.linalg.norm(bvh.positions() - expected_metres(joints, HUMANML3D)[:, bvh_order(HUMANML3D)], axis=-1)
    assert error.max() < CM
