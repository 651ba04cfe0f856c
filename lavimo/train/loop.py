"""The per-worker train loop run by Ray Train: DDP steps over the streamed shard, validation, checkpoints, MLflow."""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist

from lavimo import checkpoint, storage
from lavimo.config import LavimoConfig
from lavimo.data.pipeline import torch_batches
from lavimo.eval.embed import Embedder, stack_embeddings
from lavimo.eval.protocols import all_protocol, flat_metrics
from lavimo.losses import LavimoLoss, LossWeights, World
from lavimo.models import LavimoModel
from lavimo.models.inputs import ModelInputs, model_inputs
from lavimo.tracking import RunLogger
from lavimo.train.schedule import build_optimizer, build_scheduler

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """Runtime facts of this worker, kept apart from the config."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_chief(self) -> bool:
        return self.rank == 0


@dataclass
class TrainState:
    model: torch.nn.Module  # DDP-wrapped when world_size > 1
    core: LavimoModel  # the unwrapped model, for saving and evaluation
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps completed


def train_loop_per_worker(loop_config: dict) -> None:
    """Entry point of every Ray Train worker. loop_config: config (the LavimoConfig), steps_per_epoch, mlflow_uri,
    run_id, run_folder (storage_path/name: the checkpoints go there, and rank 0 leaves there the MLflow records the
    server did not take by the end)."""
    config: LavimoConfig = loop_config["config"]  # validated by the driver
    context = ray.train.get_context()
    worker = Worker(context.get_world_rank(), context.get_world_size(), ray.train.torch.get_device())
    torch.manual_seed(config.train.seed + worker.rank)
    torch.set_num_threads(max(1, round(config.train.cpus_per_worker)))  # as many threads as reserved CPUs
    state = _build_state(config, worker, loop_config["steps_per_epoch"])
    loss_fn = build_loss(config, World(worker.rank, worker.world_size))
    tracker = (
        RunLogger(loop_config["mlflow_uri"], loop_config["run_id"], loop_config["run_folder"])
        if worker.is_chief
        else None
    )
    try:
        _train(state, loss_fn, config, worker, tracker, loop_config["run_folder"])
    finally:
        if tracker is not None:
            tracker.close()


def _train(
    state: TrainState, loss_fn, config: LavimoConfig, worker: Worker, tracker: RunLogger | None, run_folder: str
) -> None:
    """Epochs from the state's to train.epochs: train, validate (rank 0), report and checkpoint."""
    train_shard = ray.train.get_dataset_shard("train")
    val_shard = ray.train.get_dataset_shard("val")
    while state.epoch < config.train.epochs:
        started = time.monotonic()
        epoch_metrics = _train_epoch(state, train_shard, loss_fn, config, worker, tracker)
        state.epoch += 1
        metrics = {
            "epoch": state.epoch,
            "step": state.step,
            **epoch_metrics,
            "time/train_epoch_s": time.monotonic() - started,
        }
        if worker.is_chief:
            started = time.monotonic()
            metrics.update(validate(state.core, val_shard, config, worker))
            metrics["time/validation_s"] = time.monotonic() - started
            tracker.metrics(metrics, step=state.epoch)
            log.info("epoch %d: %s", state.epoch, _summary(metrics))
        _report(state, config, worker, metrics, run_folder)


def _summary(metrics: dict) -> str:
    shown = (
        "train/total_epoch",
        "val/t2m/R10",
        "val/v2m/R1",
        "time/train_epoch_s",
        "time/data_wait_s",
        "time/validation_s",
    )
    return ", ".join(f"{k} {metrics[k]:.3g}" for k in shown if k in metrics)


def _build_state(config: LavimoConfig, worker: Worker, steps_per_epoch: int) -> TrainState:
    core = LavimoModel(config.model)
    optimizer = build_optimizer(core, config.train)
    scheduler = build_scheduler(optimizer, config.train.epochs * steps_per_epoch, config.train)
    scaler = torch.amp.GradScaler(enabled=_use_amp(config, worker))
    state = TrainState(core, core, optimizer, scheduler, scaler)
    resumed = ray.train.get_checkpoint()
    if resumed is not None:
        with resumed.as_directory() as downloaded:  # a local checkpoint is its own folder, with its run's others
            folder = checkpoint.whole_checkpoint(downloaded)
            checkpoint.load_weights(folder, core)
            saved = checkpoint.load_training_state(folder)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        state.epoch, state.step = int(saved["epoch"]), int(saved["step"])
        log.info("rank %d resumed from epoch %d, step %d", worker.rank, state.epoch, state.step)
    state.model = ray.train.torch.prepare_model(core)  # moves to the device; DDP when world_size > 1
    return state


def _use_amp(config: LavimoConfig, worker: Worker) -> bool:
    return config.train.mixed_precision and worker.device.type == "cuda"


def _autocast(config: LavimoConfig, worker: Worker):
    if not _use_amp(config, worker):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _train_epoch(
    state: TrainState, shard, loss_fn: LavimoLoss, config: LavimoConfig, worker: Worker, tracker: RunLogger | None
) -> dict[str, float]:
    """One pass over this worker's shard; returns the epoch's mean losses and the count of skipped samples."""
    state.model.train()
    totals: dict[str, float] = {}
    batches = skipped = 0
    per_worker = config.train.batch_size // worker.world_size
    waited, ready = 0.0, time.monotonic()
    for batch in torch_batches(shard, per_worker, device="cpu", training=True):
        waited += time.monotonic() - ready
        inputs, dropped = _usable_rows(batch, config, worker)
        skipped += dropped
        if len(inputs) < 2:
            continue
        terms = train_step(state, inputs, loss_fn, config, worker)
        batches += 1
        for name, value in terms.items():
            totals[name] = totals.get(name, 0.0) + value
        if tracker is not None and state.step % config.train.log_every_steps == 0:
            tracker.metrics({f"train/{k}": v for k, v in terms.items()}, step=state.step)
        ready = time.monotonic()
    means = {f"train/{k}_epoch": v / max(batches, 1) for k, v in totals.items()}
    return {**means, "train/skipped_samples": float(_sum_over_workers(skipped, worker)), "time/data_wait_s": waited}


def _usable_rows(batch: dict, config: LavimoConfig, worker: Worker) -> tuple[ModelInputs, int]:
    """Drops rows the stream flagged invalid (counted); every worker keeps the same number of rows, as the
    gathered loss needs equal local batches."""
    valid = torch.as_tensor(batch["valid"]).bool()
    keep = int(valid.sum())
    if worker.world_size > 1:
        count = torch.tensor([keep], device=worker.device)
        dist.all_reduce(count, op=dist.ReduceOp.MIN)
        keep = int(count.item())
    rows = torch.nonzero(valid).flatten()[:keep]
    subset = {name: torch.as_tensor(column)[rows] for name, column in batch.items()}
    inputs = model_inputs(subset, worker.device, with_video=config.model.has_video)
    return inputs, int(valid.numel()) - keep


def build_loss(config: LavimoConfig, world: World) -> LavimoLoss:
    """The config's loss: every pair of its modalities at its weight, plus lambda_recon x reconstruction, with
    negative filtering at epsilon."""
    loss = config.loss
    pairs = {("motion", "text"): loss.motion_text}
    if config.model.has_video:
        pairs |= {("motion", "video"): loss.motion_video, ("text", "video"): loss.text_video}
    return LavimoLoss(LossWeights(pairs=pairs, reconstruction=loss.lambda_recon), loss.epsilon, world)


def train_step(
    state: TrainState, inputs: ModelInputs, loss_fn: LavimoLoss, config: LavimoConfig, worker: Worker
) -> dict[str, float]:
    """One optimiser step (forward, loss, scaled backward, clipping, schedule); returns the logged scalars."""
    with _autocast(config, worker):
        out = state.model(inputs.motion, inputs.motion_mask, inputs.input_ids, inputs.attention_mask, inputs.frames)
        embeddings = {"motion": out.motion_emb, "text": out.text_emb}
        if out.video_emb is not None:
            embeddings["video"] = out.video_emb
        loss = loss_fn(
            embeddings,
            inputs.sentence_embedding,
            out.logit_scale,
            out.reconstruction.float(),
            inputs.motion,
            inputs.motion_mask,
        )
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss.total).backward()
    state.scaler.unscale_(state.optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.train.grad_clip_norm)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    state.step += 1
    total = float(loss.total.detach())
    if not math.isfinite(total):
        raise FloatingPointError(f"loss became {total} at step {state.step}")
    return {
        **loss.scalars(),
        "temperature": 1.0 / float(out.logit_scale.detach()),
        "grad_norm": float(grad_norm),
        "lr": state.scheduler.get_last_lr()[0],
    }


def validate(model: LavimoModel, val_shard, config: LavimoConfig, worker: Worker) -> dict[str, float]:
    """The All protocol on the whole validation split: R@1,2,3,5,10 and MedR per direction."""
    embedder = Embedder(model, worker.device)
    batches = torch_batches(val_shard, 64, device="cpu", training=False)
    parts = [embedder(batch) for batch in batches if _all_valid(batch)]
    if not parts:
        return {}
    results = all_protocol(stack_embeddings(parts))
    return flat_metrics(results, "val")


def _all_valid(batch: dict) -> bool:
    valid = np.asarray(batch["valid"]).astype(bool)
    if not valid.all():
        log.warning("validation: %d invalid rows in a batch were left out", int((~valid).sum()))
    return bool(valid.any())


def _sum_over_workers(value: int, worker: Worker) -> int:
    if worker.world_size == 1:
        return value
    total = torch.tensor([value], device=worker.device)
    dist.all_reduce(total)
    return int(total.item())


def _report(state: TrainState, config: LavimoConfig, worker: Worker, metrics: dict, run_folder: str) -> None:
    """Every worker reports (a barrier); the chief attaches a checkpoint every `checkpoint_every` epochs, into
    run_folder (storage_path/name), after checking that it can still be written."""
    due = state.epoch % config.train.checkpoint_every == 0 or state.epoch == config.train.epochs
    if not (due and worker.is_chief):
        ray.train.report(metrics)
        return
    training_state = {
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "epoch": state.epoch,
        "step": state.step,
    }
    storage.check_writable(run_folder, "train.storage_path")  # a full or read-only store stops the run here
    with tempfile.TemporaryDirectory() as folder:
        checkpoint.save_checkpoint(folder, state.core, training_state, config, metrics)
        try:
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
        except OSError as error:  # the store failed while Ray Train copied the checkpoint into it
            raise storage.StorageError(
                f"train.storage_path {run_folder}: cannot write the checkpoint of epoch {state.epoch} ({error})"
            ) from error
