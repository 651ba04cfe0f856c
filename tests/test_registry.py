"""The model registry on a real MLflow store (SQLite, as a tracking server keeps it): a checkpoint logged as a pyfunc
model and registered once, an alias, the version fetched back by models:/ URI, and bad URIs named."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from lavimo import registry
from lavimo.checkpoint import check_whole, load_model, save_checkpoint
from lavimo.config import load_config
from lavimo.eval.query import QueryEncoder
from lavimo.models import LavimoModel
from tests.test_train_e2e import SMOKE

SENTENCES = ["a person walks forward", "someone jumps twice", "a man waves with his left hand"]


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """(store URI, checkpoint folder, run id, version) of an untrained smoke model registered as 'lavimo-test'."""
    tmp = tmp_path_factory.mktemp("registry")
    torch.manual_seed(0)
    config = load_config(SMOKE)
    folder = str(save_checkpoint(tmp / "run" / "checkpoint_1", LavimoModel(config.model), {}, config, {"epoch": 1}))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("registry-test", artifact_location=str(tmp / "artifacts"))
    run_id = client.create_run(experiment).info.run_id
    version = registry.log_and_register(client, run_id, folder, "lavimo-test", {"test/all/t2m/R1": "12.50"})
    return uri, folder, run_id, version


def test_a_checkpoint_is_registered_once_with_its_run_and_metrics(registered):
    uri, folder, run_id, version = registered
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert registry.log_and_register(client, run_id, folder, "lavimo-test", {}) == version == "1"  # a replay
    (found,) = client.search_model_versions("name = 'lavimo-test'")
    assert found.run_id == run_id and found.tags[registry.CHECKPOINT_TAG] == folder
    assert found.tags["test/all/t2m/R1"] == "12.50"
    assert registry.version_of_checkpoint(uri, "lavimo-test", folder) == "1"
    assert registry.version_of_checkpoint(uri, "lavimo-test", folder + "-other") is None


def test_an_alias_fetches_the_checkpoint_and_the_pyfunc_embeds_as_the_checkpoint_does(
    registered, tmp_path, monkeypatch
):
    uri, folder, _, version = registered
    registry.set_alias(uri, "lavimo-test", version, "champion")
    expected = QueryEncoder(load_model(folder)[0]).texts(SENTENCES)  # (3, C)
    fetched = registry.model_checkpoint(uri, "models:/lavimo-test@champion", cache=str(tmp_path / "cache"))
    check_whole(fetched)
    assert fetched == registry.model_checkpoint(uri, "models:/lavimo-test/1", cache=str(tmp_path / "cache"))
    np.testing.assert_allclose(QueryEncoder(load_model(fetched)[0]).texts(SENTENCES), expected, atol=1e-6)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model("models:/lavimo-test@champion")
    signature = model.metadata.signature  # from predict's type hints: a list of sentences in
    assert signature is not None and signature.inputs.to_dict() == [{"type": "string", "required": True}], signature
    assert model.metadata.saved_input_example_info is not None
    embeddings = model.predict(SENTENCES)
    assert embeddings.dtype == np.float32 and embeddings.shape == expected.shape
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(
    ("model_uri", "message"),
    [
        ("models:/lavimo-test@nobody", "has no model 'lavimo-test' with alias 'nobody'"),
        ("models:/lavimo-test/7", "has no model 'lavimo-test' with version 7"),
        ("models:/missing@champion", "has no model 'missing' with alias 'champion'"),
        ("runs:/abc/model", "not a model URI"),
    ],
)
def test_a_uri_that_names_no_version_is_refused_naming_it(registered, model_uri, message):
    with pytest.raises(registry.RegistryError, match=message):
        registry.model_checkpoint(registered[0], model_uri)
