"""A checkpoint's motion library as a search service sees it: the model's query towers, the motion index and what
the manifest says of each motion. No Serve or HTTP here: lavimo/serve/app.py puts this behind the API."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from lavimo import checkpoint, storage
from lavimo.data.datasets import DATASET_SPECS
from lavimo.eval.query import QueryEncoder
from lavimo.eval.retrieval import Hit, MotionRecord, load_or_build_index, motion_records, top_k
from lavimo.export.motions import export_files

log = logging.getLogger(__name__)


class UnknownMotion(KeyError):
    """A motion id that is not in the library, or a file it does not have; args[0] says which, for a reader."""


@dataclass(frozen=True)
class LibrarySettings:
    checkpoint: str  # a checkpoint folder (the newest whole one of its run is taken if it is damaged)
    prepared: str | None = None  # the prepared dataset to search; None: the checkpoint's
    splits: tuple[str, ...] = ()  # (): every split of the checkpoint's config


class MotionLibrary:
    """Loads the model and the index once (building the index first if it is missing, as jobs/retrieve.py does)."""

    def __init__(self, settings: LibrarySettings):
        folder = str(checkpoint.whole_checkpoint(settings.checkpoint))
        model, config = checkpoint.load_model(folder)
        self.checkpoint = folder
        self.prepared = settings.prepared or config.data.prepared
        self.splits = list(settings.splits or config.data.splits)
        self.encoder = QueryEncoder(model)
        self.index = load_or_build_index(
            folder, self.prepared, self.splits, workers=1, cpus_per_worker=config.train.decode_cpus
        )
        self.records: dict[str, MotionRecord] = motion_records(self.prepared, self.splits)
        missing = [motion_id for motion_id in self.index.ids if motion_id not in self.records]
        if missing:
            raise ValueError(
                f"the index of {folder} holds {len(missing)} motions that {self.prepared} does not "
                f"(e.g. {missing[0]}): rebuild it with jobs/retrieve.py --rebuild-index"
            )
        self._rows = {motion_id: row for row, motion_id in enumerate(self.index.ids)}
        log.info(
            "motion library: %d motions of %s (%s), checkpoint %s",
            len(self.index),
            self.prepared,
            "+".join(self.splits),
            folder,
        )

    @property
    def has_video(self) -> bool:
        return self.encoder.model.config.has_video

    def record(self, motion_id: str) -> MotionRecord:
        if motion_id not in self._rows:
            raise UnknownMotion(f"motion {motion_id!r} is not in the library")
        return self.records[motion_id]

    def search(self, query: np.ndarray, k: int, exclude: str | None = None) -> list[Hit]:
        """query: (C,) unit vector -> the k best motions, best first."""
        return top_k(self.index, query, k, exclude=exclude)

    def motion_vector(self, motion_id: str) -> np.ndarray:
        """The stored embedding of a motion: (C,) float32."""
        self.record(motion_id)
        return self.index.vectors[self._rows[motion_id]].astype(np.float32)

    def video_file(self, motion_id: str) -> str:
        """The local path of a motion's rendered clip, found by id in the manifest only; UnknownMotion when there is
        none."""
        path = self.record(motion_id).video_path
        if storage.is_uri(path) or not storage.is_file(path):
            raise UnknownMotion(f"motion {motion_id!r} has no video file here")
        return path

    def export(self, motion_id: str, fmt: str) -> bytes:
        """The motion as jobs/export.py writes it ("bvh" or "npy"); ExportError (lavimo.export.motions) when its files
        are unusable."""
        record = self.record(motion_id)
        return export_files(motion_id, record.feature_path, record.joints_path, DATASET_SPECS[record.dataset], fmt)
