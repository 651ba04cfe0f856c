"""The training job end to end: data (prepared once), distributed training, test-split evaluation, MLflow."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass

from lavimo import storage, tracking
from lavimo.checkpoint import whole_checkpoint
from lavimo.config import LavimoConfig
from lavimo.eval.evaluate import Evaluation, check_dissimilar_list, evaluate_checkpoint
from lavimo.eval.evaluation_job import record_evaluation
from lavimo.eval.protocols import markdown_table
from lavimo.prepare.dataset import ensure_synthetic_dataset, is_prepared, prepare_dataset
from lavimo.train.trainer import TrainingRun, run_name, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSummary:
    run: TrainingRun
    evaluation: Evaluation

    def describe(self) -> str:
        return "\n".join(
            [
                f"test split, All protocol ({self.run.name}):",
                markdown_table(self.evaluation.headline()),
                *(
                    [f"held-out style: skipped, {self.evaluation.held_out.skipped}"]
                    if self.evaluation.held_out.skipped
                    else []
                ),
                f"every protocol:  {storage.join(self.evaluation.folder, 'results.md')}",
                f"best checkpoint: {self.run.best_checkpoint}",
                f"run folder:      {self.run.folder}",
                f"MLflow run:      {self.run.mlflow_run_id} in {self.run.mlflow_uri}",
                f"see it with:     {tracking.ui_command(self.run.mlflow_uri)}",
            ]
        )


def ensure_prepared(config: LavimoConfig) -> None:
    """Generates (synthetic) and prepares the dataset unless it is already prepared (see is_prepared)."""
    if is_prepared(config):
        log.info("using the prepared data in %s", config.data.prepared)
        return
    ensure_synthetic_dataset(config.data)
    log.info("data preparation:\n%s", prepare_dataset(config).describe())


def run_training_job(config: LavimoConfig, resume: str | None = None) -> JobSummary:
    """Prepares (once), trains, evaluates the best checkpoint on the test split, and records it all in MLflow."""
    if config.eval.dissimilar_ids:
        check_dissimilar_list(config.eval.dissimilar_ids, config.data.root)  # now, not after training
    storage.check_writable(config.train.storage_path, "train.storage_path")  # now, not at the first checkpoint
    ensure_prepared(config)
    run = train(config, resume or run_name(config))
    if run.best_checkpoint is None:
        raise RuntimeError(f"{run.folder}: training reported no checkpoint")
    run = dataclasses.replace(run, best_checkpoint=str(whole_checkpoint(run.best_checkpoint)))
    evaluation = evaluate_checkpoint(
        run.best_checkpoint,
        config.data.prepared,
        "test",
        storage.join(run.folder, "test_evaluation"),
        workers=1,
        cpus_per_worker=config.train.decode_cpus,
        gpus_per_worker=1.0 if config.train.use_gpu else 0.0,
    )
    record_evaluation(evaluation, run.mlflow_uri, run.mlflow_run_id, run.folder, step=int(run.metrics.get("epoch", 0)))
    logger = tracking.RunLogger(run.mlflow_uri, run.mlflow_run_id, run.folder)
    logger.artifact_text(json.dumps({"best_checkpoint": run.best_checkpoint}, indent=2), "best_checkpoint.json")
    headline = {key: f"{value:.2f}" for key, value in evaluation.metrics().items() if key.startswith("test/all/")}
    logger.model(run.best_checkpoint, config.train.registered_model or config.train.experiment, headline)
    logger.finish()
    logger.close()
    return JobSummary(run, evaluation)
