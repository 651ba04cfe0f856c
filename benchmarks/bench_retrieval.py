"""Benchmark of retrieval: MotionIndex exact search (float32, float16) vs faiss and the memory floor, and a text query.

For each index size (random unit vectors of the paper's latent size 512, seeded) it measures, in one run, the
median and 95th-percentile wall time in ms of:

  (a) `MotionIndex.search` of one query, top k, stored as float32 and as float16;
  (b) the same vectors in faiss: IndexFlatIP (float32) next to the float32 index, and
      IndexScalarQuantizer(QT_fp16, inner product) (exact search over half-precision rows) next to the float16 one;
  (c) one text query end to end: tokenize with the bundled all-MiniLM-L6-v2 tokenizer, `LavimoModel.encode_text`
      (cpu_demo config with model.latent_dim=512: the pretrained text encoder, the rest randomly initialised;
      fine for timing), then the search;
  (d) the memory-bandwidth floor: a large np.copyto is timed in the same run; a copy of B bytes reads B and
      writes B, and the floor is the time that copy rate needs for the index's bytes (float16: half the bytes),
      as the issue states it. A read-only stream can run up to twice as fast, so the verdicts also give the ratio
      to the strict floor: the index's bytes at the copy's read + write rate.

Goals (from the issue): a text query over 100k motions under 30 ms including encoding; the exact search at most
1.3x the floor for its storage type and no slower than faiss. The floor is a memory floor: it applies once the
index no longer fits the last-level cache (--llc-mib), so the floor verdict is given for those sizes only (a 1k index
is cached: its ratio is shown, fixed per-call costs dominate it). Torch, OpenMP and BLAS threads are set to --threads.
The Markdown report goes to stdout, progress to stderr.

    .venv/bin/python benchmarks/bench_retrieval.py                 # 1k, 10k, 100k, 1M; about 2 minutes
    .venv/bin/python benchmarks/bench_retrieval.py --sizes 1000,100000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from lavimo.config import load_config
from lavimo.eval.index import MotionIndex
from lavimo.models import LavimoModel
from lavimo.models.text_encoder import load_tokenizer, tokenize

LATENT_DIM = 512
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="index sizes N, comma-separated")
    parser.add_argument("--k", type=int, default=10, help="top k of each search")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch, OpenMP and BLAS threads")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per measurement (fewer for big N)")
    parser.add_argument(
        "--llc-mib",
        type=float,
        default=8.0,
        help="last-level cache size (this machine's L3); the floor verdict is for bigger indexes",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default=str(DEMO_CONFIG), help="model config of the text tower")
    parser.add_argument("--query", default="a person walks forward, turns around and waves with the left hand")
    return parser.parse_args()


def set_threads(count: int) -> str:
    """Holds torch, faiss (OpenMP) and every BLAS to `count` threads; returns what was set, for the output."""
    torch.set_num_threads(count)
    faiss.omp_set_num_threads(count)
    threadpool_limits(count)
    return f"{count} threads: torch.set_num_threads, faiss.omp_set_num_threads, threadpoolctl (all BLAS / OpenMP)"


@dataclass
class Timing:
    p50: float  # ms
    p95: float  # ms

    def cell(self) -> str:
        return f"{self.p50:.2f} / {self.p95:.2f}"


def measure(call: Callable[[], object], repeats: int, warmup: int = 5) -> Timing:
    """Median and 95th percentile (ms) of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1e3)
    return Timing(statistics.median(times), float(np.percentile(times, 95)))


def copy_rate(megabytes: int = 512, repeats: int = 15) -> float:
    """Bytes per second of np.copyto over an array far larger than the caches (median of `repeats`)."""
    source = np.ones(megabytes * 2**20 // 4, np.float32)
    target = np.empty_like(source)
    np.copyto(target, source)  # touch every page first
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        seconds.append(time.perf_counter() - started)
    return source.nbytes / statistics.median(seconds)


def unit_vectors(count: int, seed: int) -> np.ndarray:
    """(count, LATENT_DIM) float32 rows of unit length, drawn in blocks of 100k rows to bound temporary memory."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((count, LATENT_DIM), np.float32)  # (N, C)
    for start in range(0, count, 100_000):
        block = rng.standard_normal((min(100_000, count - start), LATENT_DIM), dtype=np.float32)
        vectors[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


class TextQuery:
    """Sentence -> (C,) unit vector with the project's text tower and its tokenizer."""

    def __init__(self, config_path: str):
        config = load_config(config_path, [f"model.latent_dim={LATENT_DIM}"])
        self.model = LavimoModel(config.model).eval()
        self.tokenizer = load_tokenizer(config.model.text)
        self.max_tokens = config.model.text.max_tokens

    @torch.inference_mode()
    def __call__(self, sentence: str) -> np.ndarray:
        input_ids, mask = tokenize(self.tokenizer, [sentence], self.max_tokens)  # (1, L)
        return self.model.encode_text(input_ids, mask)[0].float().numpy()  # (C,)


@dataclass
class Row:
    size: int
    dtype: str
    library: str
    search: Timing
    library_search: Timing
    floor: float  # ms
    text: Timing
    index_bytes: int

    def cells(self) -> str:
        return (
            f"| {self.size:,} | {self.dtype} | {self.search.cell()} | {self.library_search.cell()} | "
            f"{self.floor:.2f} | {self.search.p50 / self.floor:.2f} | "
            f"{self.search.p50 / self.library_search.p50:.2f} | {self.text.cell()} |"
        )


def library_index(vectors: np.ndarray, dtype: str):
    """faiss over the same rows: IndexFlatIP for float32, exact half-precision storage for float16."""
    if dtype == "float32":
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[:1000])  # QT_fp16 learns nothing; faiss wants the call
    index.add(vectors)
    return index


def check_agreement(index, library, query: np.ndarray, k: int) -> None:
    """Both answer with the same rows (up to near-ties) and scores; an assertion error otherwise."""
    scores, rows = index.search(query, k)  # (1, k)
    library_scores, library_rows = library.search(query[None], k)  # (1, k)
    np.testing.assert_allclose(scores, library_scores, atol=1e-3)
    assert len(np.intersect1d(rows, library_rows)) >= k - 1, f"{index.dtype}: top {k} differs from faiss"


def bench_dtype(vectors: np.ndarray, dtype: str, text: TextQuery, args: argparse.Namespace, rate: float) -> Row:
    """Rows (a)-(d) of one index size and storage type."""
    count = len(vectors)
    index = MotionIndex.build(
        [f"{i:07d}" for i in range(count)],
        vectors,
        durations=np.full(count, 4.0),
        captions=[["a person walks"]] * count,
        dtype=dtype,
    )
    library = library_index(vectors, dtype)
    query = text(args.query)  # (C,) a real query embedding
    check_agreement(index, library, query, args.k)
    repeats = args.repeats if count <= 100_000 else max(20, args.repeats // 7)
    search = measure(lambda: index.search(query, args.k), repeats)
    library_search = measure(lambda: library.search(query[None], args.k), repeats)
    end_to_end = measure(lambda: index.search(text(args.query), args.k), repeats)
    name = "IndexFlatIP" if dtype == "float32" else "IndexScalarQuantizer(QT_fp16)"
    return Row(
        count, dtype, name, search, library_search, index.vectors.nbytes / rate * 1e3, end_to_end, index.vectors.nbytes
    )


def verdicts(rows: list[Row], cache_bytes: float) -> list[str]:
    """One line per goal and row: holds or not, with the numbers."""
    lines = []
    for row in rows:
        label = f"N={row.size:,} {row.dtype}"
        if row.index_bytes > cache_bytes:
            ratio = row.search.p50 / row.floor
            lines.append(
                f"- {label}: search <= 1.3x floor: {'HOLDS' if ratio <= 1.3 else 'FAILS'} ({ratio:.2f}x; "
                f"{2 * ratio:.2f}x against the strict floor, reading at the copy's read + write rate)"
            )
        better = row.search.p50 <= row.library_search.p50
        lines.append(
            f"- {label}: search <= {row.library}: {'HOLDS' if better else 'FAILS'} "
            f"({row.search.p50:.2f} vs {row.library_search.p50:.2f} ms)"
        )
        if row.size == 100_000:
            fast = row.text.p50 < 30 and row.text.p95 < 30
            lines.append(
                f"- {label}: text query < 30 ms: {'HOLDS' if fast else 'FAILS'} "
                f"(p50 {row.text.p50:.2f}, p95 {row.text.p95:.2f} ms)"
            )
    return lines


def versions() -> str:
    return f"numpy {np.__version__}, torch {torch.__version__}, faiss {faiss.__version__}"


def report(rows: list[Row], rate: float, threads: str, load: tuple[float, float], cache_bytes: float) -> str:
    """The Markdown table, the floor's derivation and the verdicts."""
    header = [
        "| N | dtype | search p50 / p95 (ms) | library p50 / p95 (ms) | floor (ms) | search / floor "
        "| search / library | text query p50 / p95 (ms) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    libraries = ", ".join(sorted({f"{row.dtype}: faiss {row.library}" for row in rows}, reverse=True))
    notes = [
        f"Threads: {threads}. Versions: {versions()}.",
        f"Copy bandwidth: {rate / 1e9:.1f} GB/s of array copied ({2 * rate / 1e9:.1f} GB/s read + write); "
        "floor = index bytes / that rate (float16 stores half the bytes).",
        f"Library: {libraries}. Text query = tokenize + encode_text + search.",
        f"Load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f}.",
        "",
        "Goals:",
        *verdicts(rows, cache_bytes),
    ]
    return "\n".join([*header, *(row.cells() for row in rows), "", *notes])


def main() -> None:
    args = parse_args()
    threads = set_threads(args.threads)
    load_start = os.getloadavg()[0]
    text = TextQuery(args.config)
    rate = copy_rate()
    sizes = [int(size) for size in args.sizes.split(",")]
    everything = unit_vectors(max(sizes), args.seed)  # (N_max, C); each size uses its first rows
    rows = []
    for size in sizes:
        for dtype in ("float32", "float16"):
            rows.append(bench_dtype(everything[:size], dtype, text, args, rate))
            print("measured:", rows[-1].cells(), file=sys.stderr, flush=True)
    print(report(rows, rate, threads, (load_start, os.getloadavg()[0]), args.llc_mib * 2**20))


if __name__ == "__main__":
    main()
