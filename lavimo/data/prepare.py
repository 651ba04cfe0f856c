"""Data preparation: index a dataset folder, check and render every motion, embed every caption, write manifests."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field

from lavimo import pretrained
from lavimo.config import DataConfig, LavimoConfig
from lavimo.data import embedding_cache, pipeline, storage
from lavimo.data.datasets import DATASET_SPECS, ClipRules, DatasetSpec, MotionItem, index_split, load_statistics
from lavimo.data.manifest import ManifestInfo, manifest_path, write_manifest
from lavimo.data.prepare_motion import MotionJob, MotionResult
from lavimo.data.skip_report import SkipReport
from lavimo.data.synthetic import generate_synthetic_dataset

log = logging.getLogger(__name__)


@dataclass
class PrepareSummary:
    prepared: str
    manifests: dict[str, str] = field(default_factory=dict)  # split -> manifest location
    motions: dict[str, int] = field(default_factory=dict)  # split -> motions in its manifest
    videos_rendered: int = 0  # by this run
    videos_reused: int = 0  # rendered earlier or supplied with the dataset
    captions_embedded: int = 0  # by this run
    captions_total: int = 0
    report: SkipReport = field(default_factory=SkipReport)

    def to_dict(self) -> dict:
        fields = {k: v for k, v in self.__dict__.items() if k != "report"}
        return {**fields, "skipped": self.report.to_dict()}

    def describe(self) -> str:
        splits = ", ".join(f"{split} {n}" for split, n in self.motions.items())
        return (
            f"motions per split: {splits}\n"
            f"videos: {self.videos_rendered} rendered now, {self.videos_reused} reused\n"
            f"captions: {self.captions_total} unique, {self.captions_embedded} embedded now\n"
            f"{self.report.summary()}\n"
            f"manifests: {', '.join(self.manifests.values())}"
        )


def dataset_spec(data: DataConfig) -> tuple[DatasetSpec, ClipRules]:
    spec = DATASET_SPECS[data.dataset]
    rules = ClipRules(data.min_motion_frames or spec.min_motion_frames, data.max_motion_frames)
    return spec, rules


def index_dataset(data: DataConfig, spec: DatasetSpec, report: SkipReport) -> list[MotionItem]:
    """Every split's motions; an id listed in several splits is kept in the first only."""
    items, seen = [], set()
    for split in data.splits:
        for item in index_split(data.root, split, report):
            if item.id in seen:
                report.skip("motion", storage.join(data.root, f"{split}.txt"), "id listed in several splits", item.id)
                continue
            seen.add(item.id)
            items.append(item)
    log.info("indexed %d motions in %s (%s)", len(items), data.root, spec.name)
    return items


def prepare_dataset(config: LavimoConfig) -> PrepareSummary:
    """Runs the whole preparation on the connected Ray cluster; finished work of an earlier run is reused."""
    data = dataclasses.replace(config.data, root=storage.absolute(config.data.root),
                               prepared=storage.absolute(config.data.prepared))
    spec, rules = dataset_spec(data)
    summary = PrepareSummary(prepared=data.prepared)
    mean_path, std_path = load_statistics(data.root, spec)
    items = index_dataset(data, spec, summary.report)
    job = MotionJob(data.root, data.prepared, spec, rules, config.render)
    settings = json.dumps(dataclasses.asdict(config.render), indent=2).encode()
    storage.write_bytes_atomic(storage.join(data.prepared, "videos", config.render.fingerprint(), "render.json"),
                               settings)  # what the videos beside it were rendered with
    results = list(pipeline.prepare_motions(items, job, config.prepare.render_cpus))
    rows = _collect(results, summary)
    if not rows:
        raise ValueError(f"{data.root}: no usable motion\n{summary.report.summary()}")
    embeddings = _embed_captions(rows, config, summary)
    model_name = config.prepare.sentence_model or pretrained.BUNDLED
    info = ManifestInfo(spec.name, spec.skeleton.name, spec.feature_dim, spec.fps, mean_path, std_path,
                        model_name, int(next(iter(embeddings.values())).shape[0]))
    for split in data.splits:
        split_rows = [dict(r, caption_embeddings=[embeddings[c] for c in r["captions"]]) for r in rows
                      if r["split"] == split]
        summary.manifests[split] = manifest_path(data.prepared, split)
        summary.motions[split] = len(split_rows)
        write_manifest(split_rows, info, summary.manifests[split])
    storage.write_bytes_atomic(storage.join(data.prepared, "prepare_report.json"),
                               json.dumps(summary.to_dict(), indent=2).encode())
    return summary


def _collect(results: list[MotionResult], summary: PrepareSummary) -> list[dict]:
    rows = []
    for result in results:
        summary.report.extend(list(result.skips))
        if result.row is not None:
            rows.append(result.row)
            summary.videos_rendered += result.rendered
            summary.videos_reused += not result.rendered
    return rows


def _embed_captions(rows: list[dict], config: LavimoConfig, summary: PrepareSummary) -> dict:
    """caption text -> (E,) embedding for every caption of `rows`, embedding only what is not cached."""
    settings = config.prepare
    folder = embedding_cache.cache_folder(config.data.prepared, settings.sentence_model or pretrained.BUNDLED)
    chunks = embedding_cache.plan_chunks([c for r in rows for c in r["captions"]], settings.embed_chunk_size, folder)
    missing = [chunk for chunk in chunks if not storage.is_file(chunk[0])]
    summary.captions_total = sum(len(texts) for _, texts in chunks)
    summary.captions_embedded = pipeline.embed_chunks(
        missing, settings.sentence_model, settings.embed_batch_size,
        settings.embed_actors, settings.embed_cpus,
    )
    return embedding_cache.read_chunks([location for location, _ in chunks])


def ensure_synthetic_dataset(data: DataConfig) -> None:
    """Generates the synthetic dataset at `data.root` once; a folder made with other settings is an error."""
    if data.dataset != "synthetic":
        return
    if storage.is_uri(data.root):
        raise ValueError(f"data.root={data.root}: the synthetic dataset is generated on a local path")
    stamp = storage.join(data.root, "synthetic_config.json")
    wanted = {"num_motions": data.synthetic.num_motions, "seed": data.synthetic.seed}
    if storage.is_file(stamp):
        found = json.loads(storage.read_text(stamp))
        if found != wanted:
            raise ValueError(f"{stamp}: the synthetic dataset there was made with {found}, not {wanted}; "
                             "choose another data.root or delete the folder")
        log.info("reusing the synthetic dataset in %s", data.root)
        return
    log.info("generating the synthetic dataset (%d motions, seed %d) in %s", *wanted.values(), data.root)
    generate_synthetic_dataset(storage.absolute(data.root), **wanted)
    storage.write_bytes_atomic(stamp, json.dumps(wanted).encode())  # written last: marks the folder complete
