"""Data preparation: index a dataset folder, check and render every motion, embed every caption, write manifests:
one per split, and per test split one more whose videos are in the held-out style (manifest/test_held_out.parquet)."""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass, field

from lavimo import pretrained, storage
from lavimo.config import DataConfig, LavimoConfig, migrate_recorded
from lavimo.data import embedding_cache, pipeline
from lavimo.data.datasets import (
    DATASET_SPECS,
    ClipRules,
    DatasetSpec,
    MotionItem,
    index_split,
    is_test_split,
    load_statistics,
)
from lavimo.data.manifest import ManifestInfo, current_info, held_out_split, manifest_path, write_manifest
from lavimo.data.skip_report import SkipReport
from lavimo.data.synthetic import generate_synthetic_dataset
from lavimo.prepare.motion import MotionJob, MotionResult, prepare_motion_as_json

log = logging.getLogger(__name__)
REPORT = "prepare_report.json"


@dataclass
class PrepareSummary:
    prepared: str
    manifests: dict[str, str] = field(default_factory=dict)  # split (or test_held_out) -> manifest location
    motions: dict[str, int] = field(default_factory=dict)  # split (or test_held_out) -> motions in its manifest
    held_out: dict[str, str] = field(default_factory=dict)  # test split -> its held-out manifest, or why none
    videos_rendered: int = 0  # by this run: every view and held-out video
    videos_reused: int = 0  # rendered earlier or supplied with the dataset
    captions_embedded: int = 0  # by this run
    captions_total: int = 0
    leftovers_removed: int = 0  # temporary files of writers killed mid-write (an interrupted earlier run)
    report: SkipReport = field(default_factory=SkipReport)

    def to_dict(self) -> dict:
        fields = {k: v for k, v in self.__dict__.items() if k != "report"}
        return {**fields, "skipped": self.report.to_dict()}

    def describe(self) -> str:
        splits = ", ".join(f"{split} {n}" for split, n in self.motions.items())
        held_out = "".join(f"held-out style of {split}: {where}\n" for split, where in self.held_out.items())
        return (
            f"motions per split: {splits}\n"
            f"videos: {self.videos_rendered} rendered now, {self.videos_reused} reused\n"
            f"{held_out}"
            f"captions: {self.captions_total} unique, {self.captions_embedded} embedded now\n"
            f"unfinished files of an interrupted run removed: {self.leftovers_removed}\n"
            f"{self.report.summary()}\n"
            f"manifests: {', '.join(self.manifests.values())}"
        )


def dataset_spec(data: DataConfig) -> tuple[DatasetSpec, ClipRules]:
    spec = DATASET_SPECS[data.dataset]
    rules = ClipRules(data.min_motion_frames or spec.min_motion_frames, data.keep_shorter_than)
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
    started = time.time()
    data = config.data.replace(root=storage.absolute(config.data.root), prepared=storage.absolute(config.data.prepared))
    storage.check_writable(data.prepared, "data.prepared")
    spec, rules = dataset_spec(data)
    summary = PrepareSummary(prepared=data.prepared)
    mean_path, std_path = load_statistics(data.root, spec)
    items = index_dataset(data, spec, summary.report)
    job = MotionJob(data.root, data.prepared, spec, rules, config.render)
    settings = json.dumps(config.render.to_dict(), indent=2).encode()
    storage.write_bytes_atomic(
        storage.join(data.prepared, "videos", config.render.fingerprint(), "render.json"), settings
    )  # what the videos beside it were rendered with
    results = [
        MotionResult.from_json(result)
        for result in pipeline.map_motions(
            items, functools.partial(prepare_motion_as_json, job=job), config.prepare.render_cpus
        )
    ]
    rows = _collect(results, summary)
    _remove_leftovers(data.prepared, started, summary)
    if not rows:
        raise ValueError(f"{data.root}: no usable motion\n{summary.report.summary()}")
    embeddings = _embed_captions(rows, config, summary)
    model_name = config.prepare.sentence_model or pretrained.BUNDLED
    info = ManifestInfo(
        spec.name,
        spec.skeleton.name,
        spec.feature_dim,
        spec.fps,
        mean_path,
        std_path,
        model_name,
        int(next(iter(embeddings.values())).shape[0]),
        preparation_settings(config),
    )
    held_out = {result.id: result.held_out_video for result in results if result.held_out_video}
    write_manifests(rows, held_out, embeddings, info, config.replace(data=data), summary)
    storage.write_bytes_atomic(storage.join(data.prepared, REPORT), json.dumps(summary.to_dict(), indent=2).encode())
    return summary


def _collect(results: list[MotionResult], summary: PrepareSummary) -> list[dict]:
    rows = []
    for result in results:
        summary.report.extend(list(result.skips))
        if result.row is not None:
            rows.append(result.row)
            summary.videos_rendered += result.rendered
            summary.videos_reused += result.reused
    return rows


def _remove_leftovers(prepared: str, started: float, summary: PrepareSummary) -> None:
    """Every writer of this run has finished or given up by now; temporary files older than the run are what an
    interrupted run's killed workers left mid-write."""
    removed = storage.remove_leftover_temporaries(prepared, modified_before=started)
    summary.leftovers_removed = len(removed)
    if removed:
        log.warning(
            "removed %d unfinished file(s) that an interrupted preparation left in %s, e.g. %s",
            len(removed),
            prepared,
            removed[0],
        )


def write_manifests(
    rows: list[dict],
    held_out: dict[str, str],
    embeddings: dict,
    info: ManifestInfo,
    config: LavimoConfig,
    summary: PrepareSummary,
) -> None:
    """One manifest per split, and per test split (render.held_out.enabled) its held-out style manifest: the same
    rows with video_paths = [the held-out video]; `held_out` maps motion ids to their held-out videos."""
    prepared = config.data.prepared
    for split in config.data.splits:
        split_rows = [
            dict(r, caption_embeddings=[embeddings[c] for c in r["captions"]]) for r in rows if r["split"] == split
        ]
        _write(split, split_rows, info, prepared, summary)
        if is_test_split(split) and config.render.held_out.enabled:
            _write_held_out(split, split_rows, held_out, info, prepared, summary)
        else:
            storage.delete(manifest_path(prepared, held_out_split(split)))  # an earlier preparation's


def _write_held_out(
    split: str, rows: list[dict], videos: dict[str, str], info: ManifestInfo, prepared: str, summary: PrepareSummary
) -> None:
    """A test split's held-out style manifest, or none when some of its videos came with the dataset (said why)."""
    name = held_out_split(split)
    supplied = [row["id"] for row in rows if row["id"] not in videos]
    if supplied:
        storage.delete(manifest_path(prepared, name))
        summary.held_out[split] = (
            f"none, {len(supplied)} of its {len(rows)} motions have videos supplied with the "
            f"dataset (e.g. {supplied[0]})"
        )
        return
    _write(name, [dict(row, video_paths=[videos[row["id"]]]) for row in rows], info, prepared, summary)
    summary.held_out[split] = summary.manifests[name]


def _write(name: str, rows: list[dict], info: ManifestInfo, prepared: str, summary: PrepareSummary) -> None:
    summary.manifests[name] = manifest_path(prepared, name)
    summary.motions[name] = len(rows)
    write_manifest(rows, info, summary.manifests[name])


def preparation_settings(config: LavimoConfig) -> dict:
    """Every setting the manifests' rows depend on, as JSON values: a folder prepared with other values is prepared
    again (its finished videos and caption embeddings are reused)."""
    data, render = config.data, config.render
    settings = {
        "dataset": data.dataset,
        "root": data.root,
        "splits": list(data.splits),
        "synthetic": data.synthetic.to_dict() if data.dataset == "synthetic" else None,
        "min_motion_frames": data.min_motion_frames,
        "keep_shorter_than": data.keep_shorter_than,
        "look": render.fingerprint(),
        "views_per_motion": render.views_per_motion,
        "held_out_look": render.held_out.fingerprint() if render.held_out.enabled else None,
        "sentence_model": config.prepare.sentence_model or pretrained.BUNDLED,
    }
    return json.loads(json.dumps(settings))


def is_prepared(config: LavimoConfig) -> bool:
    """Every split's manifest is there in this manifest version, made with this config's preparation_settings, and
    (held-out style on) the last preparation considered the held-out style of every test split (wrote its
    manifest, or said why not in its report)."""
    prepared, wanted = config.data.prepared, preparation_settings(config)
    for split in config.data.splits:
        info = current_info(manifest_path(prepared, split))
        if info is None:
            return False
        recorded = migrate_recorded(info.settings, "data")  # an earlier version's names of the data settings
        changed = sorted(key for key in wanted.keys() | recorded.keys() if recorded.get(key) != wanted.get(key))
        if changed:
            log.info(
                "%s was prepared with other %s: preparing it again (finished videos and caption embeddings are reused)",
                prepared,
                ", ".join(changed),
            )
            return False
    if not config.render.held_out.enabled:
        return True
    report = storage.join(prepared, REPORT)
    considered = json.loads(storage.read_text(report)).get("held_out", {}) if storage.is_file(report) else {}
    return all(split in considered for split in config.data.splits if is_test_split(split))


def _embed_captions(rows: list[dict], config: LavimoConfig, summary: PrepareSummary) -> dict:
    """caption text -> (E,) embedding for every caption of `rows`, embedding only what is not cached."""
    settings = config.prepare
    folder = embedding_cache.cache_folder(config.data.prepared, settings.sentence_model or pretrained.BUNDLED)
    chunks = embedding_cache.plan_chunks([c for r in rows for c in r["captions"]], settings.embed_chunk_size, folder)
    missing = [chunk for chunk in chunks if not storage.is_file(chunk[0])]
    summary.captions_total = sum(len(texts) for _, texts in chunks)
    summary.captions_embedded = pipeline.embed_chunks(
        missing,
        settings.sentence_model,
        settings.embed_batch_size,
        settings.embed_actors,
        settings.embed_cpus,
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
            raise ValueError(
                f"{stamp}: the synthetic dataset there was made with {found}, not {wanted}; "
                "choose another data.root or delete the folder"
            )
        log.info("reusing the synthetic dataset in %s", data.root)
        return
    log.info("generating the synthetic dataset (%d motions, seed %d) in %s", *wanted.values(), data.root)
    generate_synthetic_dataset(storage.absolute(data.root), **wanted)
    storage.write_bytes_atomic(stamp, json.dumps(wanted).encode())  # written last: marks the folder complete
