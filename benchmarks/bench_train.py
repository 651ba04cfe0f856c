"""Benchmark of the training data path: Ray Train + the Ray Data stream against bare PyTorch, and the stream alone
against plain in-process decoding. Prints two Markdown tables.

(a) Training samples/s. Ray: `lavimo.train.trainer.train` (TorchTrainer, the config's workers, the Ray Data sample
    stream, validation and MLflow as in a real run) for a few epochs; the rate is trained samples (optimiser
    steps x global batch) over the rank-0 train-epoch times (`time/train_epoch_s`, validation excluded) of the
    epochs after the warm-up. Bare: one process, the train loop's own `train_step` (model, loss, optimiser,
    schedule, gradient clipping), the same global batch and the same number of optimiser steps, cycling over a few
    batches decoded once beforehand with SampleBuilder. Fairness: the bare loop gets as many torch threads as the Ray
    workers have together (num_workers x round(cpus_per_worker), the threads the train loop sets), and it runs
    before Ray starts, so no Ray process shares the cores with it; the Ray run's decoding shares the same cores,
    since that is the cost being measured. Overhead = Ray's time per sample / bare time per sample - 1. Also
    printed: rank 0's wait for batches, and the floor "bare time + plain decoding time of the same samples" (what
    any loop that decodes on the cores it trains on must pay).
(b) Stream samples/s. Ray: `sample_stream` + `torch_batches` over the training split (augmentation on), no model,
    the config's decode_tasks x decode_cpus, epochs after the warm-up. Plain: SampleBuilder (decord decoding,
    augmentation, tokenisation) called on 16-row batches of the manifest held in memory, in one process and in
    decode_tasks processes started with spawn (builders built and warmed before the clock starts). Also printed:
    the wait for an epoch's first batch and the rate after it.

Run from anywhere, on the prepared synthetic dataset of the cpu_demo config (outputs/prepared/synthetic):

    .venv/bin/python benchmarks/bench_train.py
    .venv/bin/python benchmarks/bench_train.py --epochs 5 --stream-epochs 4 --set train.batch_size=32

MLflow goes to a SQLite store in the temporary run folder (MLFLOW_TRACKING_URI is ignored): a benchmark does not
belong in the project's experiments.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled text model only; nothing downloads
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402

from lavimo.config import LavimoConfig, load_config  # noqa: E402
from lavimo.data.manifest import manifest_path, read_manifest  # noqa: E402
from lavimo.data.samples import SampleBuilder, manifest_batch, stream_table  # noqa: E402
from lavimo.sample_streams import builder_arguments  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DECODE_BATCH = 16  # rows per SampleBuilder call: sample_stream's map_batches batch size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "ray_configs" / "cpu_demo.yaml"))
    parser.add_argument(
        "--prepared",
        default=str(REPO / "outputs" / "prepared" / "synthetic"),
        help="prepared dataset (manifests, videos); made by jobs/prepare_data.py",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the Ray Train run")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="first epochs left out of the rates")
    parser.add_argument("--stream-epochs", type=int, default=3, help="passes of the stream-only measurement")
    parser.add_argument("--preload-batches", type=int, default=4, help="batches decoded for the bare loop")
    parser.add_argument(
        "--skip",
        choices=["train", "stream"],
        action="append",
        default=[],
        help="leave out part (a) 'train' or part (b) 'stream'",
    )
    args = parser.parse_args()
    if not 0 <= args.warmup_epochs < min(args.epochs, args.stream_epochs):
        parser.error("--warmup-epochs must be below --epochs and --stream-epochs")
    return args


def load(args: argparse.Namespace, *extra: str) -> LavimoConfig:
    return load_config(args.config, [f"data.prepared={args.prepared}", *args.set, *extra])


@dataclass
class Rate:
    what: str
    workers: str  # processes / threads, as shown
    samples: int
    seconds: float
    steps: int = 0

    @property
    def per_second(self) -> float:
        return self.samples / self.seconds

    def row(self) -> str:
        steps = f"{self.steps} | " if self.steps else ""
        return f"| {self.what} | {self.workers} | {steps}{self.samples} | {self.seconds:.2f} | {self.per_second:.1f} |"


# --------------------------------------------------------------------------------------------------------------
# (b) decoding: plain in-process loop, in one or several processes
# --------------------------------------------------------------------------------------------------------------


def _manifest_table(config: LavimoConfig) -> pa.Table:
    return stream_table(read_manifest(manifest_path(config.data.prepared, "train"))[0])


def _warm_builder(config: LavimoConfig, table: pa.Table) -> SampleBuilder:
    """A training SampleBuilder that has already decoded one row (lazy imports and first-call costs paid)."""
    builder = SampleBuilder(**builder_arguments(config, "train"), training=True)
    builder(manifest_batch(table.slice(0, 1)))
    return builder


def _decode_all(builder: SampleBuilder, table: pa.Table) -> int:
    """Runs `builder` over every row in DECODE_BATCH-row batches; returns the count of valid samples."""
    valid = 0
    for start in range(0, table.num_rows, DECODE_BATCH):
        valid += int(builder(manifest_batch(table.slice(start, DECODE_BATCH)))["valid"].sum())
    return valid


def _decode_share(config: LavimoConfig, share: int, shares: int, barrier, results) -> None:
    """Process target: builds and warms a builder, waits for the others, decodes rows share::shares."""
    table = _manifest_table(config)
    table = table.take(np.arange(share, table.num_rows, shares))
    builder = _warm_builder(config, table)
    barrier.wait()
    started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine
    count = _decode_all(builder, table)
    results.put((started, time.monotonic(), count))


def bench_plain_decode(config: LavimoConfig, processes: int) -> Rate:
    """One pass of SampleBuilder over the training manifest, in this process (1) or in `processes` processes."""
    if processes == 1:
        table = _manifest_table(config)
        builder = _warm_builder(config, table)
        started = time.perf_counter()
        count = _decode_all(builder, table)
        return Rate(
            "plain loop: SampleBuilder (decord + augment + tokenize)", "1 process", count, time.perf_counter() - started
        )
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_decode_share, args=(config, i, processes, barrier, results)) for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    done = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(end for _, end, _ in done) - min(start for start, _, _ in done)
    return Rate(
        "plain loop: SampleBuilder (decord + augment + tokenize)",
        f"{processes} processes",
        sum(count for _, _, count in done),
        seconds,
    )


# --------------------------------------------------------------------------------------------------------------
# (b) decoding: the Ray Data stream
# --------------------------------------------------------------------------------------------------------------


def bench_stream(config: LavimoConfig, epochs: int, warmup: int) -> tuple[Rate, dict]:
    """sample_stream + torch_batches over the training split: the rate of the warm epochs, and details (the first
    epoch's seconds, the mean wait for an epoch's first batch, the rate once the first batch is in)."""
    from lavimo.data.pipeline import sample_stream, torch_batches

    train = config.train
    dataset = sample_stream(
        manifest_path(config.data.prepared, "train"),
        builder_arguments(config, "train"),
        training=True,
        decode_tasks=train.decode_tasks,
        cpus_per_task=train.decode_cpus,
        seed=train.seed,
    )
    timings = []  # (samples, seconds, seconds to the first batch, samples of the first batch)
    for _ in range(epochs):
        started, count, first = time.perf_counter(), 0, None
        for batch in torch_batches(dataset, train.batch_size, device="cpu", training=True):
            count += int(batch["valid"].sum())
            first = first or (time.perf_counter() - started, count)
        timings.append((count, time.perf_counter() - started, *(first or (0.0, 0))))
    warm = timings[warmup:]
    rate = Rate(
        f"Ray Data stream: sample_stream + torch_batches, epochs {warmup + 1}-{epochs}",
        f"{train.decode_tasks} tasks x {train.decode_cpus:g} CPU",
        sum(t[0] for t in warm),
        sum(t[1] for t in warm),
    )
    after_first = sum(t[0] - t[3] for t in warm) / sum(t[1] - t[2] for t in warm)
    details = {
        "first_epoch_s": timings[0][1],
        "first_batch_s": sum(t[2] for t in warm) / len(warm),
        "after_first_batch": after_first,
    }
    return rate, details


# --------------------------------------------------------------------------------------------------------------
# (a) training: bare PyTorch loop on pre-loaded batches
# --------------------------------------------------------------------------------------------------------------


def preload_batches(config: LavimoConfig, count: int) -> list[dict[str, torch.Tensor]]:
    """`count` global batches decoded once with a training SampleBuilder, as torch tensors."""
    table = _manifest_table(config)
    builder = SampleBuilder(**builder_arguments(config, "train"), training=True)
    size = config.train.batch_size
    if count * size > table.num_rows:
        raise ValueError(f"--preload-batches {count} x batch {size} exceeds the {table.num_rows} training rows")
    batches = []
    for i in range(count):
        columns = builder(manifest_batch(table.slice(i * size, size)))
        if not columns["valid"].all():
            raise ValueError(f"pre-loaded batch {i} has invalid rows; the bare loop needs full batches")
        batches.append({name: torch.from_numpy(values) for name, values in columns.items()})
    return batches


def bench_bare_loop(config: LavimoConfig, batches: list[dict], steps: int, threads: int, warmup_steps: int = 2) -> Rate:
    """`steps` optimiser steps of the train loop's own `train_step` (one process, no Ray) cycling over `batches`."""
    from lavimo.losses import World
    from lavimo.models import LavimoModel
    from lavimo.models.inputs import model_inputs
    from lavimo.train.loop import TrainState, Worker, build_loss, train_step
    from lavimo.train.schedule import build_optimizer, build_scheduler

    torch.set_num_threads(threads)
    torch.manual_seed(config.train.seed)
    model = LavimoModel(config.model).train()
    optimizer = build_optimizer(model, config.train)
    scheduler = build_scheduler(optimizer, steps + warmup_steps, config.train)
    state = TrainState(model, model, optimizer, scheduler, torch.amp.GradScaler(enabled=False))
    worker, loss_fn = Worker(0, 1, torch.device("cpu")), build_loss(config, World())

    def step(batch: dict) -> None:
        inputs = model_inputs(batch, "cpu", with_video=config.model.has_video)  # the train loop does this per batch
        train_step(state, inputs, loss_fn, config, worker)

    for i in range(warmup_steps):
        step(batches[i % len(batches)])
    started = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return Rate(
        f"bare PyTorch loop, {len(batches)} pre-loaded batches",
        f"1 process x {threads} torch threads",
        steps * config.train.batch_size,
        time.perf_counter() - started,
        steps,
    )


# --------------------------------------------------------------------------------------------------------------
# (a) training: Ray Train + the Ray Data stream
# --------------------------------------------------------------------------------------------------------------


def ray_worker_threads(config: LavimoConfig) -> int:
    """Torch threads of all Ray Train workers together, as the train loop sets them."""
    return config.train.num_workers * max(1, round(config.train.cpus_per_worker))


def bench_ray_train(args: argparse.Namespace, storage: str) -> tuple[Rate, dict]:
    """A real training run for args.epochs epochs; the rate over the epochs after the warm-up, and details."""
    from mlflow.tracking import MlflowClient

    from lavimo.train.trainer import train

    config = load(
        args, f"train.epochs={args.epochs}", f"train.checkpoint_every={args.epochs}", f"train.storage_path={storage}"
    )
    started = time.perf_counter()
    run = train(config, "bench")
    fit_seconds = time.perf_counter() - started
    client = MlflowClient(tracking_uri=run.mlflow_uri)

    def per_epoch(name: str) -> dict[int, float]:  # the last value logged for each epoch
        return {
            m.step: m.value
            for m in sorted(client.get_metric_history(run.mlflow_run_id, name), key=lambda m: m.timestamp)
        }

    epoch_s, wait_s, steps = per_epoch("time/train_epoch_s"), per_epoch("time/data_wait_s"), per_epoch("step")
    warm = range(args.warmup_epochs + 1, args.epochs + 1)
    warm_steps = int(steps[args.epochs] - steps[args.warmup_epochs]) if args.warmup_epochs else int(steps[args.epochs])
    t = config.train
    rate = Rate(
        f"Ray Train + Ray Data stream, epochs {warm.start}-{warm.stop - 1}",
        f"{t.num_workers} workers x {max(1, round(t.cpus_per_worker))} torch thread(s) + {t.decode_tasks} decode tasks",
        warm_steps * t.batch_size,
        sum(epoch_s[e] for e in warm),
        warm_steps,
    )
    details = {
        "fit_seconds": fit_seconds,
        "first_epoch_s": epoch_s[1],
        "data_wait_s": sum(wait_s[e] for e in warm),
        "validation_s": sum(per_epoch("time/validation_s").get(e, 0.0) for e in warm),
    }
    return rate, details


# --------------------------------------------------------------------------------------------------------------


def steps_per_epoch(config: LavimoConfig) -> int:
    rows = read_manifest(manifest_path(config.data.prepared, "train"))[0].num_rows
    return rows // config.train.batch_size


def print_train_table(bare: Rate, ray: Rate, details: dict, plain_decode: Rate | None) -> None:
    print("\n## (a) training samples/s: Ray Train + Ray Data stream vs a bare PyTorch loop\n")
    print("| path | CPUs | optimiser steps | samples | seconds | samples/s |")
    print("|---|---|---|---|---|---|")
    print(bare.row())
    print(ray.row())
    overhead = bare.per_second / ray.per_second - 1.0
    print(
        f"\nstream + Ray overhead (Ray time per sample / bare time per sample - 1): {overhead:+.1%} "
        f"(goal <= 15%: {'met' if overhead <= 0.15 else 'NOT met'}); Ray reaches "
        f"{ray.per_second / bare.per_second:.1%} of the bare rate"
    )
    print(
        f"Ray run: rank 0 waited {details['data_wait_s']:.2f} s of the timed {ray.seconds:.2f} s for batches; "
        f"first (cold) epoch {details['first_epoch_s']:.2f} s; validation {details['validation_s']:.2f} s over the "
        f"timed epochs (not counted); whole fit incl. start-up {details['fit_seconds']:.1f} s"
    )
    if plain_decode is not None:
        floor = bare.seconds + ray.samples / plain_decode.per_second
        print(
            f"floor when decoding shares these cores: bare time + plain decoding of the same samples "
            f"({plain_decode.workers}) = {floor:.2f} s, i.e. {floor / bare.seconds - 1:+.1%} over bare; Ray is "
            f"{ray.seconds / floor - 1:+.1%} over that floor"
        )


def print_stream_table(one: Rate, several: Rate, stream: Rate, details: dict) -> None:
    print("\n## (b) decoding samples/s: Ray Data stream vs plain in-process SampleBuilder loops\n")
    print("| path | CPUs | samples | seconds | samples/s |")
    print("|---|---|---|---|---|")
    for rate in (one, several, stream):
        print(rate.row())
    processes = int(several.workers.split()[0])
    ratio = stream.per_second / several.per_second
    ideal = stream.per_second / (one.per_second * processes)
    print(
        f"\nstream / plain loop on the same cores ({several.workers}): {ratio:.1%} "
        f"(goal >= 85%: {'met' if ratio >= 0.85 else 'NOT met'}); stream / (1-process rate x {processes}, "
        f"ideal scaling): {ideal:.1%}"
    )
    print(
        f"stream: an epoch's first batch arrives after {details['first_batch_s']:.2f} s (mean of the timed epochs: "
        f"block shuffle and the first decode tasks); after it, {details['after_first_batch']:.1f} "
        f"samples/s; first (cold) epoch {details['first_epoch_s']:.2f} s"
    )


def main() -> None:
    args = parse_args()
    from lavimo.cli import setup_logging

    setup_logging()  # progress of the Ray run; the tables come at the end
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    config = load(args)
    for split in ("train", "val"):
        read_manifest(manifest_path(config.data.prepared, split))  # fails early, naming the file and the fix
    cores = os.cpu_count()
    print(
        f"config {args.config}, data {config.data.prepared}; {cores} cores; global batch {config.train.batch_size},"
        f" {steps_per_epoch(config)} steps per epoch"
    )
    timed_steps = steps_per_epoch(config) * (args.epochs - args.warmup_epochs)
    # Everything without Ray first, so that no Ray process shares the cores with the plain baselines.
    if "stream" not in args.skip:
        plain_one = bench_plain_decode(config, 1)
        plain_many = bench_plain_decode(config, config.train.decode_tasks)
    if "train" not in args.skip:
        bare = bench_bare_loop(
            config, preload_batches(config, args.preload_batches), timed_steps, ray_worker_threads(config)
        )
    import ray

    from lavimo.ray_cluster import connect
    from lavimo.train.trainer import cpus_needed

    connect(min_local_cpus=cpus_needed(config))
    try:
        if "stream" not in args.skip:
            stream, stream_details = bench_stream(config, args.stream_epochs, args.warmup_epochs)
        if "train" not in args.skip:
            with tempfile.TemporaryDirectory(prefix="bench_train_") as storage:
                ray_rate, details = bench_ray_train(args, storage)
            if ray_rate.steps != timed_steps:
                print(f"note: the Ray run made {ray_rate.steps} steps in the timed epochs, the bare loop {timed_steps}")
    finally:
        ray.shutdown()
    if "train" not in args.skip:
        print_train_table(bare, ray_rate, details, None if "stream" in args.skip else plain_many)
    if "stream" not in args.skip:
        print_stream_table(plain_one, plain_many, stream, stream_details)


if __name__ == "__main__":
    main()
