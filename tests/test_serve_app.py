"""The service's application arguments (Serve config `args`), checked before anything is deployed."""

import pytest

from lavimo.serve.app import build_app, deployment_options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "checkpoint: the checkpoint folder to serve is required"),
        ({"checkpoint": "runs/a/checkpoint_1", "replicas": 2}, "unknown application arguments: replicas"),
        ({"checkpoint": "runs/a/checkpoint_1", "num_replicas": 0}, "num_replicas must be >= 1"),
        ({"checkpoint": "runs/a/checkpoint_1", "num_replicas": 3, "max_replicas": 2}, "max_replicas >= num_replicas"),
    ],
)
def test_bad_application_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        build_app(args)


def test_replicas_are_fixed_or_autoscaled():
    assert deployment_options({"num_replicas": 2}) == {"ray_actor_options": {"num_cpus": 1.0}, "num_replicas": 2}
    scaled = deployment_options({"num_replicas": 1, "max_replicas": 3, "replica_cpus": 0.5})
    assert scaled["autoscaling_config"]["min_replicas"] == 1 and scaled["autoscaling_config"]["max_replicas"] == 3
    assert scaled["ray_actor_options"] == {"num_cpus": 0.5} and "num_replicas" not in scaled


def test_the_serve_config_names_this_application_and_only_its_arguments():
    import importlib

    import yaml

    from lavimo.serve.app import APP_ARGUMENTS
    from tests.serving import REPO

    (application,) = yaml.safe_load((REPO / "serve_configs" / "lavimo.yaml").read_text())["applications"]
    module, name = application["import_path"].split(":")
    assert getattr(importlib.import_module(module), name) is build_app
    assert set(application["args"]) <= APP_ARGUMENTS and "checkpoint" in application["args"]
