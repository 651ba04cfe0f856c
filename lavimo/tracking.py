"""MLflow: where runs go, a fail-fast reachability check, and the one run a training job writes to."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lavimo import outbox

log = logging.getLogger(__name__)


class TrackingError(RuntimeError):
    """The MLflow tracking store cannot be used; the message names the URI."""


def tracking_uri(run_root: str) -> str:
    """MLFLOW_TRACKING_URI when set, else a SQLite store in `run_root` (MLflow >= 3.13 refuses plain files)."""
    configured = os.environ.get("MLFLOW_TRACKING_URI", "")
    if configured:
        return configured
    folder = Path(run_root).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def _artifact_location(uri: str) -> str | None:
    """Artifacts of a local SQLite store go beside it (not into ./mlruns); a server decides for itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fails at once, with the URI in the message, when an HTTP tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    probe = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(probe, timeout=timeout_s) as answer:
            if answer.status != 200:
                raise TrackingError(f"MLflow tracking server {uri} answered {answer.status} at /health")
    except (urllib.error.URLError, OSError) as err:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({err}); start it or unset "
            "MLFLOW_TRACKING_URI to log to a local SQLite store"
        ) from None


def ui_command(uri: str) -> str:
    """The command that shows the runs of `uri` in a browser."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri}"


@dataclass(frozen=True)
class ParentRun:
    """A run that other runs are created under: MLflow's nested runs (tag mlflow.parentRunId), in its store."""

    uri: str
    run_id: str


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}: every config value as an MLflow param."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
    return flat


def start_run(
    uri: str, experiment: str, run_name: str, config: dict[str, Any], parent_run_id: str | None = None
) -> str:
    """Creates the job's run, RUNNING until `RunLogger.finish` (nested under `parent_run_id` when given), logs every
    config value as a param and the config as an artifact; returns its id."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id
        if found
        else client.create_experiment(experiment, artifact_location=_artifact_location(uri))
    )
    tags = {"mlflow.parentRunId": parent_run_id} if parent_run_id else {}
    run_id = client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
    params = [Param(key, value) for key, value in flatten(config).items()]
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, params=params[start : start + 100])
    client.log_text(run_id, json.dumps(config, indent=2), "config.json")
    return run_id


class RunLogger:
    """Metrics, tags, artifacts and the final status of one existing run, queued on this process's outbox of the
    run (lavimo.outbox): no call waits for the server. `run_folder` is where undelivered records go at the end."""

    def __init__(self, uri: str, run_id: str, run_folder: str):
        self.box = outbox.outbox(uri, run_id, run_folder)
        self.run_id = run_id

    def metrics(self, values: dict[str, float], step: int) -> None:
        self.box.put(
            "metrics",
            {
                "values": {k: float(v) for k, v in values.items()},
                "step": int(step),
                "timestamp": int(time.time() * 1000),
            },
        )

    def artifact_text(self, text: str, name: str) -> None:
        self.artifact_bytes(text.encode("utf-8"), name)

    def artifact_bytes(self, data: bytes, name: str) -> None:
        self.box.put("artifact", {"name": name, "data": base64.b64encode(data).decode("ascii")})

    def tags(self, values: dict[str, str]) -> None:
        self.box.put("tags", {"values": {k: str(v) for k, v in values.items()}})

    def model(self, checkpoint_folder: str, name: str, tags: dict[str, str]) -> None:
        """Logs the checkpoint as the run's pyfunc model and registers it under `name` (see lavimo.registry)."""
        self.box.put(
            "model", {"checkpoint": checkpoint_folder, "name": name, "tags": {k: str(v) for k, v in tags.items()}}
        )

    def finish(self, status: str = "FINISHED", end_time_s: float | None = None) -> None:
        """Ends the run now, or at `end_time_s` (Unix seconds)."""
        end_time_ms = int((time.time() if end_time_s is None else end_time_s) * 1000)
        self.box.put("finish", {"status": status, "end_time_ms": end_time_ms})

    def close(self, flush_s: float | None = None) -> int:
        """Waits for delivery (see Outbox.close); returns how many records went to the run folder instead."""
        return outbox.close(self.box, flush_s)
