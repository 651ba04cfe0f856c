"""Output places that cannot be written stop a job at its start, naming the key, the place and the operation."""

import os
import time

import pytest

from lavimo import storage
from lavimo.config import load_config
from lavimo.prepare.dataset import prepare_dataset
from lavimo.train.job import run_training_job
from tests.looks import CPU_DEMO


@pytest.fixture
def blocked(tmp_path):
    """A place no folder can be made at: below a regular file (root may write anywhere, so no chmod)."""
    (tmp_path / "a_file").write_text("not a folder")
    return str(tmp_path / "a_file" / "runs")


def test_a_writable_place_is_made_and_left_clean(tmp_path):
    storage.check_writable(str(tmp_path / "new" / "runs"), "train.storage_path")
    assert (tmp_path / "new" / "runs").is_dir() and not list((tmp_path / "new" / "runs").iterdir())


def test_a_place_that_cannot_be_written_is_named_with_the_operation(blocked):
    with pytest.raises(storage.StorageError, match=rf"train.storage_path {blocked}: cannot create the folder"):
        storage.check_writable(blocked, "train.storage_path")


def test_the_training_job_and_preparation_stop_at_once_on_such_a_place(blocked, tmp_path):
    config = load_config(CPU_DEMO, [f"train.storage_path={blocked}", f"data.prepared={tmp_path / 'prepared'}"])
    with pytest.raises(storage.StorageError, match=rf"train.storage_path {blocked}: cannot create the folder"):
        run_training_job(config)
    assert not (tmp_path / "prepared").exists()  # stopped before preparing anything
    config = load_config(CPU_DEMO, [f"data.prepared={blocked}"])
    with pytest.raises(storage.StorageError, match=rf"data.prepared {blocked}: cannot create the folder"):
        prepare_dataset(config)


def test_only_temporaries_older_than_the_cut_are_removed_at_any_depth(tmp_path):
    """What a writer killed mid-write leaves goes; a running writer's temporary and every other file stay."""
    folder = tmp_path / "videos" / "abc"
    folder.mkdir(parents=True)
    dead = storage.temporary_sibling(str(folder / "M1_v0.mp4"))
    live = storage.temporary_sibling(str(folder / "M2_v0.mp4"))
    for path in (dead, live, folder / "M3_v0.mp4", folder / ".M4_v0.mp4.tmp-not-ours"):
        open(path, "w").write("x")
    os.utime(dead, (1_000, 1_000))
    os.utime(folder / "M3_v0.mp4", (1_000, 1_000))
    assert storage.remove_leftover_temporaries(str(tmp_path), modified_before=time.time() - 60) == [dead]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [os.path.basename(live), "M3_v0.mp4", ".M4_v0.mp4.tmp-not-ours"]
    )
    assert storage.remove_leftover_temporaries(str(tmp_path / "missing"), time.time()) == []


def test_an_atomic_write_leaves_no_temporary(tmp_path):
    target = str(tmp_path / "sub" / "report.json")
    storage.write_bytes_atomic(target, b"{}")
    assert os.listdir(tmp_path / "sub") == ["report.json"]
    assert storage.remove_leftover_temporaries(str(tmp_path), time.time() + 60) == []
