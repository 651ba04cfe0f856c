"""The four retrieval protocols of the field (TMR's conventions), and a fifth (exact-caption pairs, as MotionPatches
and later papers count), over a split's test pairs, and their Markdown tables.

One test pair per motion: the motion, its first caption and its video share a row in every embedding array.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from lavimo import storage
from lavimo.data.datasets import mirror_id
from lavimo.directions import DIRECTIONS
from lavimo.eval.metrics import METRICS, retrieval_metrics, same_caption, unit_rows

Results = dict[str, dict[str, float]]  # direction -> metric -> value

# (query modality, gallery modality) for each reported direction
DIRECTION_LABELS = {
    "t2m": "Text-motion retrieval",
    "m2t": "Motion-text retrieval",
    "v2m": "Video-motion retrieval",
    "m2v": "Motion-video retrieval",
    "t2v": "Text-video retrieval",
    "v2t": "Video-text retrieval",
}
TABLE_PAIRS = (("t2m", "m2t"), ("v2m", "m2v"), ("t2v", "v2t"))  # the column groups of one table
SENTENCE = "sentence"  # (N, E) sentence-model embedding of each pair's caption
THRESHOLD_NOTES = {0.95: "TMR code", 0.8: "paper text"}
DISSIMILAR_SIZE = 100
HELD_OUT_LABEL = "held-out style"  # marks the rows whose videos are the test split's held-out style renderings


def available_directions(embeddings: Mapping[str, np.ndarray]) -> list[str]:
    return [name for name, (query, gallery) in DIRECTIONS.items() if query in embeddings and gallery in embeddings]


def all_protocol(
    embeddings: Mapping[str, np.ndarray], threshold: float | None = None, correct: np.ndarray | None = None
) -> Results:
    """The "All" protocol: every pair of the split; directions whose modalities are missing are left out.
    With a threshold, "All with threshold": items whose caption matches the query's (embeddings["sentence"])
    count as correct too (see lavimo.eval.metrics.correct_matches); or `correct` (N, N) bool names them."""
    if threshold is not None and SENTENCE not in embeddings:
        raise ValueError(f'the threshold protocol needs the "{SENTENCE}" embeddings of the captions')
    captions = embeddings[SENTENCE] if threshold is not None else None
    results = {}
    for name in available_directions(embeddings):
        query, gallery = DIRECTIONS[name]
        similarity = unit_rows(embeddings[query], query) @ unit_rows(embeddings[gallery], gallery).T  # (N, N) cosine
        results[name] = retrieval_metrics(similarity, captions, threshold, correct=correct)
    return results


def exact_caption_protocol(embeddings: Mapping[str, np.ndarray], captions: Sequence[str]) -> Results:
    """The All protocol where every item whose caption text is identical to the query pair's caption counts as
    correct, in every direction (post-TMR papers, e.g. MotionPatches, count retrieval this way)."""
    if len(captions) != len(next(iter(embeddings.values()))):
        raise ValueError(f"{len(captions)} captions for {len(next(iter(embeddings.values())))} pairs")
    return all_protocol(embeddings, correct=same_caption(captions))


def threshold_protocol_name(threshold: float) -> str:
    return f"threshold_{threshold:g}"


def protocol_label(name: str) -> str:
    """The paper's name of a protocol: "threshold_0.8" -> "(b) All with threshold 0.8 (paper text)"."""
    fixed = {
        "all": "(a) All",
        "dissimilar": "(c) Dissimilar subset",
        "small_batches": "(d) Small batches",
        "exact_caption": "(e) Exact-caption pairs (MotionPatches; not in the LAVIMO paper)",
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("threshold_"):
        value = float(name.removeprefix("threshold_"))
        note = f" ({THRESHOLD_NOTES[value]})" if value in THRESHOLD_NOTES else ""
        return f"(b) All with threshold {value:g}{note}"
    raise ValueError(f"unknown protocol {name!r}")


def select_rows(embeddings: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The same arrays restricted to some rows (pairs), in the order of `rows`."""
    return {key: np.asarray(values)[rows] for key, values in embeddings.items()}


def rows_of(ids: Sequence[str], wanted: Sequence[str], source: str) -> np.ndarray:
    """(len(wanted),) row of each wanted id in `ids`; `source` names where the wanted ids came from in errors."""
    duplicates = sorted(key for key, count in collections.Counter(wanted).items() if count > 1)
    if duplicates:
        raise ValueError(f"{source}: ids listed more than once: {duplicates[:5]}")
    row_of = {key: row for row, key in enumerate(ids)}
    missing = [key for key in wanted if key not in row_of]
    if missing:
        raise ValueError(f"{source}: {len(missing)} ids are not in the split, e.g. {missing[:5]}")
    return np.array([row_of[key] for key in wanted], dtype=np.int64)


def mirror_groups(ids: Sequence[str]) -> int:
    """How many motions the ids hold when a motion and its mirror count once."""
    return len({min(key, mirror_id(key)) for key in ids})


def choose_dissimilar(ids: Sequence[str], sentence_embeddings: np.ndarray, size: int = DISSIMILAR_SIZE) -> list[str]:
    """`size` pairs whose captions are mutually dissimilar, by greedy farthest-point selection (max-min cosine).

    Works in sorted id order. The start is the most atypical caption: the lowest mean cosine to all captions.
    Each next pick is the caption whose highest cosine to the picks so far is the lowest. Ties go to the
    smallest id. A pick makes its mirror (see mirror_id) unavailable. Returns the ids in the order picked.
    """
    if size < 1:
        raise ValueError(f"the dissimilar subset needs a positive size, got {size}")
    if len(ids) != len(sentence_embeddings):
        raise ValueError(f"{len(ids)} ids but {len(sentence_embeddings)} sentence embeddings")
    order = sorted(range(len(ids)), key=lambda row: ids[row])
    sorted_ids = [ids[row] for row in order]
    rows_of(sorted_ids, sorted_ids, "ids")  # refuses duplicates
    groups = mirror_groups(sorted_ids)
    if groups < size:
        raise ValueError(
            f"the dissimilar subset needs {size} pairs but only {groups} are available "
            f"({len(ids)} ids, a motion and its mirror counted once)"
        )
    unit = unit_rows(np.asarray(sentence_embeddings)[order], "sentence embeddings")  # (N, E)
    row_of = {key: row for row, key in enumerate(sorted_ids)}
    available = np.ones(len(sorted_ids), dtype=bool)  # (N,)
    pick = int(np.argmin(unit @ unit.mean(axis=0)))  # (N,) mean cosine to all captions
    closest = np.full(len(sorted_ids), -np.inf)  # (N,) highest cosine to any pick so far
    picked = []
    while True:
        picked.append(sorted_ids[pick])
        available[pick] = False
        available[row_of.get(mirror_id(sorted_ids[pick]), pick)] = False  # its mirror, when in the split
        if len(picked) == size:
            return picked
        closest = np.maximum(closest, unit @ unit[pick])
        pick = int(np.argmin(np.where(available, closest, np.inf)))


def read_id_list(path: str, split_ids: Sequence[str]) -> list[str]:
    """Ids, one a line (the published nsim_test.txt format; blank lines ignored), all of them in the split."""
    if not storage.is_file(path):
        raise FileNotFoundError(f"{path}: id list file not found")
    listed = [line.strip() for line in storage.read_text(path).splitlines() if line.strip()]
    if not listed:
        raise ValueError(f"{path}: the id list is empty")
    rows_of(split_ids, listed, path)
    return listed


def write_id_list(path: str, ids: Sequence[str]) -> None:
    """Writes ids one a line, atomically (local path or URI)."""
    storage.write_bytes_atomic(path, "".join(f"{key}\n" for key in ids).encode("utf-8"))


def small_batches(ids: Sequence[str], batch_size: int = 32, seed: int = 0) -> list[list[str]]:
    """TMR's small batches: ids sorted, their positions shuffled by numpy's legacy generator seeded with `seed`
    (TMR calls np.random.seed(seed) then np.random.shuffle: the same stream), cut into full batches in
    shuffled order; the last partial batch is dropped."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    ordered = sorted(ids)
    if len(ordered) < batch_size:
        raise ValueError(f"small batches of {batch_size} need at least {batch_size} pairs, got {len(ordered)}")
    positions = np.arange(len(ordered))  # (N,)
    np.random.RandomState(seed).shuffle(positions)
    starts = range(0, len(ordered) - batch_size + 1, batch_size)
    return [[ordered[p] for p in positions[start : start + batch_size]] for start in starts]


def small_batches_protocol(
    embeddings: Mapping[str, np.ndarray], ids: Sequence[str], batch_size: int = 32, seed: int = 0
) -> Results:
    """The All protocol inside each small batch; every metric, MedR included, averaged over the batches."""
    per_batch = [
        all_protocol(select_rows(embeddings, rows_of(ids, batch, "small batch")))
        for batch in small_batches(ids, batch_size, seed)
    ]
    return {
        direction: {metric: float(np.mean([batch[direction][metric] for batch in per_batch])) for metric in METRICS}
        for direction in per_batch[0]
    }


@dataclasses.dataclass(frozen=True)
class ProtocolRun:
    results: dict[str, Results]  # protocol name -> direction -> metric -> value, in the paper's order
    dissimilar_ids: list[str]  # the pairs of the Dissimilar subset protocol: write them next to the results
    notes: list[str]  # where a split too small for a protocol changed or skipped it


def run_protocols(
    embeddings: Mapping[str, np.ndarray],
    ids: Sequence[str],
    *,
    thresholds: Sequence[float] = (0.95, 0.8),
    dissimilar_ids: Sequence[str] | None = None,
    dissimilar_size: int = DISSIMILAR_SIZE,
    batch_size: int = 32,
    seed: int = 0,
    captions: Sequence[str] | None = None,
) -> ProtocolRun:
    """All four protocols in every direction the embeddings allow, then the exact-caption protocol when the pairs'
    caption texts are given. Without dissimilar_ids, choose_dissimilar picks `dissimilar_size` pairs from the
    sentence embeddings, or as many as a small split has (noted); a split smaller than one batch skips the
    small-batches protocol (noted)."""
    _check_split(embeddings, ids)
    names = [threshold_protocol_name(threshold) for threshold in thresholds]
    if len(set(names)) < len(names):
        raise ValueError(f"thresholds repeat: {list(thresholds)}")
    results, notes = {"all": all_protocol(embeddings)}, []
    for name, threshold in zip(names, thresholds):
        results[name] = all_protocol(embeddings, threshold=threshold)
    if dissimilar_ids is None:
        if SENTENCE not in embeddings:
            raise ValueError(
                f'choosing the dissimilar subset needs the "{SENTENCE}" embeddings; or pass dissimilar_ids'
            )
        size = min(dissimilar_size, mirror_groups(ids))
        if size < dissimilar_size:
            notes.append(
                f"{protocol_label('dissimilar')}: the split has {size} motions (a motion and its mirror "
                f"counted once), so the subset has {size} pairs instead of {dissimilar_size}"
            )
        dissimilar_ids = choose_dissimilar(ids, embeddings[SENTENCE], size)
    results["dissimilar"] = all_protocol(select_rows(embeddings, rows_of(ids, dissimilar_ids, "dissimilar ids")))
    if len(ids) >= batch_size:
        results["small_batches"] = small_batches_protocol(embeddings, ids, batch_size, seed)
    else:
        notes.append(
            f"{protocol_label('small_batches')}: skipped, the split has {len(ids)} pairs, "
            f"fewer than one batch of {batch_size}"
        )
    if captions is not None:
        results["exact_caption"] = exact_caption_protocol(embeddings, captions)
    return ProtocolRun(results, list(dissimilar_ids), notes)


def _check_split(embeddings: Mapping[str, np.ndarray], ids: Sequence[str]) -> None:
    rows_of(ids, ids, "ids")  # refuses duplicates
    for key, values in embeddings.items():
        if len(values) != len(ids):
            raise ValueError(f'embeddings["{key}"] has {len(values)} rows but there are {len(ids)} ids')
    if not available_directions(embeddings):
        raise ValueError(
            f"no retrieval direction: the embeddings have {sorted(embeddings)}, need motion with text or video"
        )


def metric_name(direction: str, metric: str) -> str:
    """MLflow-safe names: "t2m", "R@10" -> "t2m/R10"."""
    return f"{direction}/{metric.replace('@', '')}"


def flat_metrics(results: Results, prefix: str) -> dict[str, float]:
    return {f"{prefix}/{metric_name(d, m)}": v for d, values in results.items() for m, v in values.items()}


def markdown_table(results: Results) -> str:
    """One row per direction, the columns of the paper's tables."""
    lines = ["| direction | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for direction, values in results.items():
        lines.append(f"| {direction} | " + " | ".join(f"{values[m]:.2f}" for m in METRICS) + " |")
    return "\n".join(lines)


def markdown_tables(
    results: Mapping[str, Results],
    published: Mapping[str, Mapping[str, Results]] | None = None,
    method: str = "LAVIMO-on-Ray (ours)",
    held_out: Mapping[str, Results] | None = None,
) -> str:
    """Markdown laid out like the paper's Tables 1-4: a section per protocol, in it one table per pair of
    directions present (text-motion, video-motion, text-video) whose column groups are the two directions
    (R@1 R@2 R@3 R@5 R@10 MedR each) and whose rows are methods: the published ones given as
    {protocol: {method: {direction: metrics}}} (see lavimo.eval.published), then `method` with `results`, then
    `method, held-out style` with `held_out` ({protocol: results} with held-out style videos) where given."""
    published, held_out = published or {}, held_out or {}
    sections = []
    for protocol, ours in results.items():
        rows = {**published.get(protocol, {}), method: ours}
        if protocol in held_out:
            rows[f"{method}, {HELD_OUT_LABEL}"] = held_out[protocol]
        tables = [
            _pair_table(pair, rows)
            for pair in TABLE_PAIRS
            if any(direction in values for values in rows.values() for direction in pair)
        ]
        sections.append(f"### {protocol_label(protocol)}\n\n" + "\n\n".join(tables))
    return "\n\n".join(sections) + "\n"


def _pair_table(pair: tuple[str, str], rows: Mapping[str, Results]) -> str:
    """Two header lines like the paper's (direction groups, then metric names), then one line per method."""
    names = [f"{metric} {'↓' if metric == 'MedR' else '↑'}" for metric in METRICS]
    lines = [
        "| |" + "".join(f" {DIRECTION_LABELS[d]} |" + " |" * (len(METRICS) - 1) for d in pair),
        "|---|" + "---:|" * (len(METRICS) * len(pair)),
        "| **Methods** |" + "".join(f" **{name}** |" for name in names) * len(pair),
    ]
    for method, values in rows.items():
        if any(direction in values for direction in pair):
            cells = [_cell(values.get(direction, {}), metric) for direction in pair for metric in METRICS]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(metrics: Mapping[str, float], metric: str) -> str:
    return f"{metrics[metric]:.2f}" if metric in metrics else "–"
