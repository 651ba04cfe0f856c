"""BVH files of jobs/export.py imported by Blender (Debian's package, headless, its own importer with its default
axes): the frame count, the frame rate and every pose bone's head on every frame within 1 cm of the source, the
body upright on the floor and facing Blender's front view, for HumanML3D-layout, KIT-layout and synthetic
motions and mirrored ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from jobs import export as export_job
from lavimo.export.bvh import joint_label
from lavimo.skeleton import HUMANML3D, KIT
from tests.looks import CPU_DEMO
from tests.rigid_motions import expected_metres, mirrored, rigid_motion, write_motion
from tests.system_packages import debian_program

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).with_name("blender_read_bvh.py")
CM = 0.01


def to_blender(positions: np.ndarray) -> np.ndarray:
    """BVH's y-up (x, y, z) as Blender's z-up world after its importer's default axes (forward -Z, up Y)."""
    return np.stack([positions[..., 0], -positions[..., 2], positions[..., 1]], axis=-1)


@pytest.fixture(scope="module")
def blender() -> str:
    return debian_program("blender", "/usr/bin/blender")


def export(tmp_path, root, dataset: str, motion_id: str) -> Path:
    """jobs/export.py; a synthetic dataset of three motions (and their mirrors) is generated at its first use."""
    out = tmp_path / f"{dataset}_{motion_id}.bvh"
    settings = [f"data.root={root}", f"data.dataset={dataset}", "data.synthetic.num_motions=3"]
    export_job.main(
        ["--config", str(CPU_DEMO), *(f"--set={setting}" for setting in settings), "--id", motion_id, "--out", str(out)]
    )
    return out


def test_blender_imports_the_files_as_they_were_recorded(tmp_path, blender):
    cases = {}  # file -> (skeleton, source joints in the skeleton's units)
    for skeleton, dataset in ((HUMANML3D, "humanml3d"), (KIT, "kit")):
        joints = rigid_motion(skeleton, 50, seed=4)
        for motion_id, motion in (("000004", joints), ("M000004", mirrored(joints, skeleton))):
            write_motion(tmp_path / dataset, motion_id, motion, skeleton)
            cases[export(tmp_path, tmp_path / dataset, dataset, motion_id)] = (skeleton, motion)
    for motion_id in ("000001", "M000001"):
        path = export(tmp_path, tmp_path / "synthetic", "synthetic", motion_id)
        cases[path] = (HUMANML3D, np.load(tmp_path / "synthetic" / "new_joints" / f"{motion_id}.npy"))

    run = subprocess.run(
        [
            blender,
            "-b",
            "--factory-startup",
            "--python",
            str(SCRIPT),
            "--",
            str(tmp_path / "blender.json"),
            *map(str, cases),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and (tmp_path / "blender.json").exists(), run.stdout[-3000:] + run.stderr[-3000:]
    seen = json.loads((tmp_path / "blender.json").read_text())

    for path, (skeleton, source) in cases.items():
        imported = seen[str(path)]
        names = [joint_label(name) for name in skeleton.joint_names]
        assert sorted(imported["bones"]) == sorted(names)
        assert imported["frames"] == len(source) and imported["fps"] == pytest.approx(skeleton.fps, rel=1e-6)
        heads = np.array([[imported["heads"][str(frame)][name] for name in names] for frame in range(len(source))])
        expected = to_blender(expected_metres(source, skeleton))  # (T, J, 3) Blender's world, metres
        error = np.linalg.norm(heads - expected, axis=-1)
        assert error.max() < CM, f"{path.name}: {error.max() * 100:.3f} cm"
        assert heads[..., 2].min() == pytest.approx(0, abs=1e-4)  # on the floor

    for path in [p for p in cases if p.name.startswith("synthetic")]:  # a human body: upright, facing the viewer
        heads = seen[str(path)]["heads"]["0"]
        assert heads["Head"][2] > heads["Neck"][2] > heads["Pelvis"][2] > heads["L_Knee"][2] > heads["L_Ankle"][2]
        across = np.subtract(heads["L_Hip"], heads["R_Hip"])  # towards the body's left
        forward = np.cross(across, [0, 0, 1])
        assert forward[1] < -0.9 * np.linalg.norm(forward)  # Blender's front view looks along +Y at the body's front
