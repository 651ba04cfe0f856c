"""sample_stream + torch_batches on a real local Ray cluster: every row once per epoch, a new seeded order every
epoch, dtypes, flagged bad rows."""

import pytest
import torch

from lavimo.data.manifest import read_manifest, write_manifest
from lavimo.data.pipeline import sample_stream, torch_batches
from lavimo.data.samples import StreamSettings, sample_index
from tests.samples_data import SIZE, write_prepared

SETTINGS = StreamSettings(crop_frames=32, num_video_frames=4, frame_size=SIZE, max_tokens=16)
DTYPES = {
    "motion": torch.float32,
    "motion_length": torch.int64,
    "input_ids": torch.int64,
    "attention_mask": torch.bool,
    "frames": torch.uint8,
    "sentence_embedding": torch.float32,
    "index": torch.int64,
    "valid": torch.bool,
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """7 rows: the 3 test motions, 2 copies, one with a corrupt video and one with a missing .npy; (path, info, bad)."""
    root = tmp_path_factory.mktemp("stream")
    path, info = write_prepared(root)
    rows = read_manifest(str(path))[0].to_pylist()
    (root / "corrupt.mp4").write_bytes(b"not a video")
    copies = [
        dict(rows[1], id="copy1"),
        dict(rows[2], id="copy2"),
        dict(rows[0], id="bad_video", video_paths=[str(root / "corrupt.mp4")]),
        dict(rows[1], id="bad_motion", feature_path=str(root / "missing.npy")),
    ]
    write_manifest(rows + copies, info, str(path))
    return str(path), info, {sample_index("bad_video"), sample_index("bad_motion")}


def _kwargs(info):
    return {
        "stats": (info.mean_path, info.std_path),
        "tokenizer": "",
        "settings": SETTINGS,
        "with_video": True,
        "embedding_dim": info.embedding_dim,
    }


@pytest.mark.e2e
def test_every_row_once_per_epoch_with_bad_rows_flagged(ray_cluster, manifest):
    from ray.data.dataset import MaterializedDataset

    location, info, bad = manifest
    ids = ["m0", "m1", "m2", "copy1", "copy2", "bad_video", "bad_motion"]
    dataset = sample_stream(location, _kwargs(info), training=True, decode_tasks=1, cpus_per_task=0.5, batch_size=2)
    assert not isinstance(dataset, MaterializedDataset)
    for epoch in range(2):  # the same (lazy) dataset, iterated twice
        seen = []
        for batch in torch_batches(dataset, 3, device="cpu", training=False):
            assert {name: t.dtype for name, t in batch.items()} == DTYPES
            assert batch["frames"].shape[1:] == (4, SIZE, SIZE, 3) and batch["motion"].shape[1:] == (32, 263)
            seen += list(zip(batch["index"].tolist(), batch["valid"].tolist()))
        assert sorted(i for i, _ in seen) == sorted(sample_index(i) for i in ids), f"epoch {epoch}"
        assert {i for i, valid in seen if not valid} == bad, f"epoch {epoch}"


@pytest.fixture(scope="module")
def many_rows(tmp_path_factory):
    """24 rows (copies of the 3 test motions under their own ids), sorted by id in the manifest."""
    root = tmp_path_factory.mktemp("many")
    path, info = write_prepared(root)
    rows = read_manifest(str(path))[0].to_pylist()
    write_manifest([dict(rows[i % 3], id=f"r{i:02d}") for i in range(24)], info, str(path))
    return str(path), info


def _epochs(location, info, seed, epochs=2, batch=4):
    """The batches (lists of sample indices) of `epochs` epochs of a training stream, read through the Ray Train
    dataset config the trainer uses (one worker)."""
    from lavimo.train.trainer import _data_config

    dataset = sample_stream(location, _kwargs(info), training=True, decode_tasks=2, cpus_per_task=0.25, seed=seed)
    (shard,) = [
        split["train"]
        for split in _data_config().configure(
            {"train": dataset}, world_size=1, worker_handles=None, worker_node_ids=None
        )
    ]
    return [
        [b["index"].tolist() for b in torch_batches(shard, batch, device="cpu", training=True)] for _ in range(epochs)
    ]


@pytest.mark.e2e
def test_rows_are_shuffled_anew_every_epoch_and_the_seed_fixes_the_order(ray_cluster, many_rows):
    location, info = many_rows
    first, second = _epochs(location, info, seed=3)
    everything = sorted(sample_index(f"r{i:02d}") for i in range(24))
    for epoch in (first, second):  # every row exactly once per epoch, in 6 full batches of 4
        assert sorted(i for batch in epoch for i in batch) == everything and len(epoch) == 6
    assert {frozenset(b) for b in first} != {frozenset(b) for b in second}  # other negatives in each batch
    sorted_order = [sample_index(f"r{i:02d}") for i in range(24)]
    assert [i for b in first for i in b] != sorted_order
    assert _epochs(location, info, seed=3) == [first, second]  # the same seed, the same orders
    assert _epochs(location, info, seed=4, epochs=1)[0] != first


class _Shard:
    """Records what torch_batches asks of a dataset shard."""

    def iter_torch_batches(self, **kwargs):
        self.kwargs = kwargs
        return iter(())


@pytest.mark.parametrize("training", [True, False])
def test_torch_batches_names_every_column_and_drops_the_last_batch_in_training(training):
    shard = _Shard()
    list(torch_batches(shard, 4, device="cpu", training=training))
    assert shard.kwargs["dtypes"] == DTYPES and shard.kwargs["drop_last"] is training
    assert shard.kwargs["batch_size"] == 4 and "local_shuffle_buffer_size" not in shard.kwargs


def test_a_missing_manifest_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.parquet.*prepare_data"):
        sample_stream(str(tmp_path / "missing.parquet"), {}, training=False, decode_tasks=1, cpus_per_task=1)
