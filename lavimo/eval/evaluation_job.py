"""The evaluation job: a checkpoint's split in the four protocols and exact-caption pairs, and (test) the held-out
style rows -> Markdown and JSON files, and its MLflow run."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

from lavimo import checkpoint, storage, tracking
from lavimo.eval.evaluate import HELD_OUT_STYLE, Evaluation, evaluate_checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationRequest:
    checkpoint: str
    split: str = "test"
    prepared: str | None = None  # None: the prepared dataset the checkpoint was trained on
    folder: str | None = None  # None: <run folder>/evaluation/<checkpoint name>-<split>
    dissimilar_ids_file: str | None = None  # a published list such as nsim_test.txt; None: chosen and written
    published_file: str | None = None  # published numbers to show beside ours (see lavimo.eval.published)
    workers: int = 1  # embedding actors
    gpus_per_worker: float = 0.0


def default_folder(checkpoint_folder: str, split: str) -> str:
    folder = storage.absolute(checkpoint_folder).rstrip("/")
    parent, name = folder.rsplit("/", 1)
    return storage.join(parent, "evaluation", f"{name}-{split}")


def record_evaluation(evaluation: Evaluation, uri: str, run_id: str, run_folder: str, step: int) -> None:
    """Every protocol's metrics and the result files into an MLflow run (queued; see lavimo.outbox)."""
    logger = tracking.RunLogger(uri, run_id, run_folder)
    logger.metrics(evaluation.metrics(), step=step)
    name = f"{evaluation.split}_results"
    logger.artifact_text(evaluation.tables, f"{name}.md")
    document = {
        "checkpoint": evaluation.checkpoint,
        "notes": evaluation.protocols.notes,
        "dissimilar_ids": evaluation.protocols.dissimilar_ids,
        "protocols": evaluation.protocols.results,
        HELD_OUT_STYLE: evaluation.held_out.to_dict(),
    }
    logger.artifact_text(json.dumps(document, indent=2), f"{name}.json")


def run_evaluation(request: EvaluationRequest) -> tuple[Evaluation, str, str]:
    """Evaluates and records; returns the evaluation and the MLflow (URI, run id) it went to: the training run
    of the checkpoint when its run folder names one, else a new run."""
    folder = str(checkpoint.whole_checkpoint(request.checkpoint))
    config = checkpoint.read_config(folder)
    uri, run_id = _mlflow_run(folder, config)
    resources = {
        "workers": request.workers,
        "cpus_per_worker": config.train.decode_cpus,
        "gpus_per_worker": request.gpus_per_worker,
    }
    evaluation = evaluate_checkpoint(
        folder,
        request.prepared or config.data.prepared,
        request.split,
        request.folder or default_folder(folder, request.split),
        dissimilar_ids_file=request.dissimilar_ids_file,
        published_file=request.published_file,
        **resources,
    )
    step = int(checkpoint.read_progress(folder).get("epoch", 0))
    run_folder = storage.absolute(folder).rstrip("/").rsplit("/", 1)[0]
    record_evaluation(evaluation, uri, run_id, run_folder, step)
    tracking.RunLogger(uri, run_id, run_folder).close()
    return evaluation, uri, run_id


def _mlflow_run_of(checkpoint_folder: str) -> tuple[str, str] | None:
    """(URI, run id) of the training run of a checkpoint, from its run folder's record; None without one."""
    saved = checkpoint.read_run_record(checkpoint.run_folder_of(checkpoint_folder))
    return (saved["mlflow_uri"], saved["run_id"]) if saved else None


def _mlflow_run(checkpoint_folder: str, config) -> tuple[str, str]:
    training = _mlflow_run_of(checkpoint_folder)
    if training is not None:
        tracking.check_reachable(training[0])
        log.info("recording into the training run %s", training[1])
        return training
    uri = tracking.tracking_uri(storage.absolute(config.train.storage_path))
    tracking.check_reachable(uri)
    name = f"evaluate-{checkpoint_folder.rstrip('/').rsplit('/', 1)[-1]}"
    return uri, tracking.start_run(uri, config.train.experiment, name, config.to_dict())


def promote(checkpoint_folder: str, model_uri: str | None, alias: str) -> str:
    """Points `alias` at the registry version of the evaluated checkpoint: the version `model_uri` names, else the one
    registered for this folder under its config's train.registered_model (or experiment) in its run's registry."""
    from lavimo import registry

    if model_uri:
        uri = os.environ["MLFLOW_TRACKING_URI"]  # checked where the model was fetched
        name, version = registry.resolve_version(uri, model_uri)
    else:
        config = checkpoint.read_config(checkpoint_folder)
        uri, _ = _mlflow_run_of(checkpoint_folder) or (tracking.tracking_uri(config.train.storage_path), None)
        name = config.train.registered_model or config.train.experiment
        version = registry.version_of_checkpoint(uri, name, checkpoint_folder)
        if version is None:
            raise SystemExit(
                f"--alias {alias}: {checkpoint_folder} has no version in model {name!r} of the "
                f"registry at {uri} (a training job registers only its best checkpoint)"
            )
    registry.set_alias(uri, name, version, alias)
    return f"models:/{name}@{alias} -> version {version} ({checkpoint_folder})"


def describe(evaluation: Evaluation, uri: str, run_id: str) -> str:
    return "\n".join(
        [
            evaluation.tables,
            f"results: {evaluation.folder} (results.md, results.json, dissimilar_ids.txt)",
            f"MLflow run: {run_id} in {uri}",
            f"see it with: {tracking.ui_command(uri)}",
        ]
    )
