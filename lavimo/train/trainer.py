"""The driver side of training: the data streams, the Ray Train TorchTrainer, its storage, resumption and MLflow run."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import ray.train
from ray.train.torch import TorchTrainer

from lavimo import checkpoint, storage, tracking
from lavimo.config import LavimoConfig
from lavimo.data import pipeline
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.data.samples import stream_table, unmirrored_count
from lavimo.sample_streams import builder_arguments
from lavimo.train.loop import train_loop_per_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRun:
    name: str
    folder: str  # storage_path/name: Ray Train's checkpoints and state
    mlflow_uri: str
    mlflow_run_id: str
    best_checkpoint: str | None  # local path or URI of the best checkpoint by train.checkpoint_metric
    metrics: dict  # the last reported metrics


def cpus_needed(config: LavimoConfig) -> float:
    """Logical CPUs a training job reserves: workers, decode tasks, and one for Ray Data's reads and validation."""
    train = config.train
    return train.num_workers * train.cpus_per_worker + train.decode_tasks * train.decode_cpus + 1.0


def run_name(config: LavimoConfig) -> str:
    return f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(
    config: LavimoConfig,
    name: str,
    parent: tracking.ParentRun | None = None,
    callbacks: Sequence[ray.train.UserCallback] = (),
) -> TrainingRun:
    """Trains on the connected Ray cluster; re-running with the same name resumes from the last checkpoint.

    With `parent`, the MLflow run is created as its child, in its store; `callbacks` join the Train RunConfig
    (e.g. Tune's TuneReportCallback when a Tune trial runs this)."""
    storage_path = storage.absolute(config.train.storage_path)
    folder = storage.join(storage_path, name)
    uri, run_id = _mlflow_run(config, folder, name, parent)
    train_table = read_manifest(manifest_path(config.data.prepared, "train"))[0]
    train_rows = train_table.num_rows
    unpaired = unmirrored_count(stream_table(train_table))  # never flipped; counted with the run (sample_stream warns)
    tracking.RunLogger(uri, run_id, folder).tags({"data.train_motions_without_mirror": str(unpaired)})
    steps_per_epoch = train_rows // config.train.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"train.batch_size {config.train.batch_size} is larger than the {train_rows} training motions")
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "config": config,
            "steps_per_epoch": steps_per_epoch,
            "mlflow_uri": uri,
            "run_id": run_id,
            "run_folder": folder,
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=config.train.num_workers,
            use_gpu=config.train.use_gpu,
            resources_per_worker={"CPU": config.train.cpus_per_worker},
        ),
        run_config=_run_config(config, name, storage_path, callbacks),
        datasets=_datasets(config),
        dataset_config=_data_config(),
    )
    try:
        result = trainer.fit()
    except ray.train.ControllerError as error:
        if isinstance(error.controller_failure, storage.StorageError):  # raised by StopOnStorageError
            raise storage.StorageError(
                f"{error.controller_failure}; the run stopped at once; once the store can "
                f"be written again, continue it with --resume {name}"
            ) from None
        raise
    best = result.get_best_checkpoint(config.train.checkpoint_metric, "max") if result.best_checkpoints else None
    return TrainingRun(name, folder, uri, run_id, best.path if best else None, dict(result.metrics or {}))


class StopOnStorageError(ray.train.UserCallback):
    """Ends the run when a worker could not write to the store (StorageError) instead of restarting the workers:
    every restart would meet the same full or read-only store, and max_failures restarts cost minutes."""

    def after_exception(self, run_context, worker_exceptions: dict[int, Exception]) -> None:
        for error in worker_exceptions.values():
            if isinstance(error, storage.StorageError):
                raise error


def _run_config(
    config: LavimoConfig, name: str, storage_path: str, callbacks: Sequence[ray.train.UserCallback]
) -> ray.train.RunConfig:
    return ray.train.RunConfig(
        name=name,
        storage_path=storage_path,
        callbacks=[StopOnStorageError(), *callbacks],
        failure_config=ray.train.FailureConfig(max_failures=config.train.max_failures),
        checkpoint_config=ray.train.CheckpointConfig(
            num_to_keep=config.train.keep_checkpoints,
            checkpoint_score_attribute=config.train.checkpoint_metric,
            checkpoint_score_order="max",
        ),
    )


def _data_config() -> ray.train.DataConfig:
    """Train splits the training stream between the workers, every worker validates on the whole validation
    split. The training stream keeps its (seeded, shuffled) order, so that the batches follow the permutation."""
    ordered = ray.train.DataConfig.default_ingest_options()
    ordered.preserve_order = True
    return ray.train.DataConfig(datasets_to_split=["train"], execution_options={"train": ordered})


def _datasets(config: LavimoConfig) -> dict:
    """The training stream (augmented, a random caption per motion) and the validation stream (first caption)."""
    return {
        split: pipeline.sample_stream(
            manifest_path(config.data.prepared, split),
            builder_arguments(config, split),
            training=training,
            decode_tasks=config.train.decode_tasks,
            cpus_per_task=config.train.decode_cpus,
            seed=config.train.seed,
        )
        for split, training in (("train", True), ("val", False))
    }


def default_tracking_uri(storage_path: str) -> str:
    """MLFLOW_TRACKING_URI when set, else a SQLite store in a local storage_path (in ./outputs for a URI)."""
    return tracking.tracking_uri(storage_path if not storage.is_uri(storage_path) else storage.absolute("outputs"))


def _mlflow_run(config: LavimoConfig, folder: str, name: str, parent: tracking.ParentRun | None) -> tuple[str, str]:
    """(tracking URI, run id): the run recorded in the run folder when resuming, else a new one (a child of
    `parent`, in its store, when given)."""
    saved = checkpoint.read_run_record(folder)
    if saved is not None:
        tracking.check_reachable(saved["mlflow_uri"])
        log.info("resuming MLflow run %s", saved["run_id"])
        return saved["mlflow_uri"], saved["run_id"]
    uri = parent.uri if parent else default_tracking_uri(storage.absolute(config.train.storage_path))
    tracking.check_reachable(uri)
    run_id = tracking.start_run(
        uri, config.train.experiment, name, config.to_dict(), parent_run_id=parent.run_id if parent else None
    )
    checkpoint.write_run_record(folder, {"mlflow_uri": uri, "run_id": run_id})
    return uri, run_id
