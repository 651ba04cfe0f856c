"""A trained checkpoint in MLflow's model registry: logged to its run as a pyfunc model that embeds sentences,
registered under a name, promoted with aliases, and fetched back by `models:/NAME@ALIAS` or `models:/NAME/VERSION`.

The model is defined as code (lavimo/eval/sentence_pyfunc.py, logged by path: this module imports nothing above
the leaves, so the tracking queue can register a model); its artifacts are the checkpoint's files and its code is
this package (copied in, so that `mlflow.pyfunc.load_model` works wherever the project's dependencies are
installed). A version carries the run, the checkpoint's path and the test metrics as tags; the tag
`lavimo.checkpoint` finds the version of a checkpoint."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import mlflow.pyfunc

import lavimo
from lavimo import storage

log = logging.getLogger(__name__)

CHECKPOINT_TAG = "lavimo.checkpoint"
RUN_TAG = "lavimo.run_id"
MODEL_PATH = "model"  # in the run's artifacts
EXAMPLE = ["a person walks forward and waves"]
PYFUNC_CODE = Path(lavimo.__file__).parent / "eval" / "sentence_pyfunc.py"  # the model's definition
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class RegistryError(ValueError):
    """A models:/ URI that names no model version, or a checkpoint with no version; the message names it."""


def log_and_register(client, run_id: str, checkpoint_folder: str, name: str, tags: dict[str, str]) -> str:
    """Logs the checkpoint to run `run_id` as a pyfunc model and registers it as a new version of `name` (with
    `client`, an MlflowClient); returns the version. A version of this run and checkpoint that exists already is
    returned instead (a replay adds none)."""
    checkpoint_folder = storage.absolute(checkpoint_folder)
    found = _version_of_checkpoint(client, name, checkpoint_folder, run_id)
    if found is not None:
        return found
    with tempfile.TemporaryDirectory() as scratch:
        _save_model(Path(scratch) / MODEL_PATH, checkpoint_folder)
        client.log_artifacts(run_id, str(Path(scratch) / MODEL_PATH), MODEL_PATH)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{MODEL_PATH}"
    version = client.create_model_version(
        name, source, run_id=run_id, tags={RUN_TAG: run_id, CHECKPOINT_TAG: checkpoint_folder, **tags}
    )
    log.info("registered %s version %s (run %s, %s)", name, version.version, run_id, checkpoint_folder)
    return str(version.version)


def _save_model(path: Path, checkpoint_folder: str) -> None:
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(PYFUNC_CODE),
        artifacts={"checkpoint": checkpoint_folder},
        code_paths=[str(Path(lavimo.__file__).parent)],
        input_example=EXAMPLE,
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    """The project's own dependencies (without extras), as its installed metadata lists them."""
    return [r for r in importlib.metadata.requires("lavimo") or [] if "extra ==" not in r]


def version_of_checkpoint(uri: str, name: str, checkpoint_folder: str) -> str | None:
    """The version of `name` registered for this checkpoint folder, or None."""
    from mlflow.tracking import MlflowClient

    return _version_of_checkpoint(MlflowClient(tracking_uri=uri, registry_uri=uri), name, checkpoint_folder)


def _version_of_checkpoint(client, name: str, checkpoint_folder: str, run_id: str | None = None) -> str | None:
    folder = storage.absolute(checkpoint_folder)
    for version in client.search_model_versions(f"name = '{name}'"):
        if version.tags.get(CHECKPOINT_TAG) == folder and run_id in (None, version.tags.get(RUN_TAG)):
            return str(version.version)
    return None


def parse_uri(model_uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of models:/NAME@ALIAS or models:/NAME/VERSION."""
    match = _URI.match(model_uri)
    if not match:
        raise RegistryError(f"{model_uri!r}: not a model URI; expected models:/NAME@ALIAS or models:/NAME/VERSION")
    return match["name"], match["alias"], match["version"]


def resolve_version(uri: str, model_uri: str) -> tuple[str, str]:
    """(name, version) that `model_uri` names in the registry at `uri`; RegistryError naming what is missing."""
    found = _model_version(uri, model_uri)
    return found.name, str(found.version)


def _model_version(uri: str, model_uri: str):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name, alias, version = parse_uri(model_uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        found = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException as err:
        what = f"alias {alias!r}" if alias else f"version {version}"
        raise RegistryError(
            f"{model_uri}: the registry at {uri} has no model {name!r} with {what} ({err.message.splitlines()[0]})"
        ) from None
    return found


def model_checkpoint(uri: str, model_uri: str, cache: str | None = None) -> str:
    """The local checkpoint folder of a registered model version: downloaded once into
    CACHE/NAME/VERSION (CACHE: $LAVIMO_MODEL_CACHE, default ~/.cache/lavimo/models), then reused."""
    from mlflow.artifacts import download_artifacts

    found = _model_version(uri, model_uri)
    name, version = found.name, str(found.version)
    root = Path(cache or os.environ.get("LAVIMO_MODEL_CACHE") or Path.home() / ".cache" / "lavimo" / "models")
    target = root / name / version  # the model: MLmodel, code/, artifacts/CHECKPOINT_NAME/
    if not target.is_dir():
        root.joinpath(name).mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root / name))
        try:
            local = download_artifacts(artifact_uri=found.source, dst_path=str(scratch), tracking_uri=uri)
            os.replace(local, target)  # whole or not at all
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info("downloaded %s (version %s) into %s", model_uri, version, target)
    (checkpoint,) = (target / "artifacts").iterdir()  # the checkpoint folder, under its own name
    return str(checkpoint)


def set_alias(uri: str, name: str, version: str, alias: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(name, alias, version)
    log.info("alias %s of %s now points at version %s", alias, name, version)
