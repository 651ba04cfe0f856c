"""The cluster launcher configs (cluster.yaml, ray_configs/cluster_onprem.yaml) pass Ray's own checks, offline.

`ray up` first runs `prepare_config` (merge the provider's defaults.yaml shipped with Ray,
merge setup commands, fill per-type worker bounds; for a local provider, build its node
type from the listed hosts) and `validate_config` (ray-schema.json plus Ray's cross-field
checks), and only then asks the provider to bootstrap (boto3 calls for key pairs, subnets,
IAM, instance resources). The tests run the first two steps, with the network blocked to
prove it, and never the third. Both are private Ray APIs: requirements.lock pins Ray.
"""

import copy
import ipaddress
import socket
from pathlib import Path

import click
import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from lavimo.config import load_config

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "cluster.yaml"
ONPREM = ROOT / "ray_configs" / "cluster_onprem.yaml"
CONFIGS = [pytest.param(AWS, id="aws"), pytest.param(ONPREM, id="onprem")]

# What the editable install and the jobs need from the repository.
REPO_PARTS = {"lavimo", "jobs", "ray_configs", "pyproject.toml", "requirements.lock", "README.md"}

# AWS's g6e sizes: (vCPUs, NVIDIA L40S GPUs of 48 GB).
G6E = {
    "g6e.xlarge": (4, 1),
    "g6e.2xlarge": (8, 1),
    "g6e.4xlarge": (16, 1),
    "g6e.8xlarge": (32, 1),
    "g6e.16xlarge": (64, 1),
    "g6e.12xlarge": (48, 4),
    "g6e.24xlarge": (96, 4),
    "g6e.48xlarge": (192, 8),
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def ray_checked(raw: dict) -> dict:
    """The config as `ray up` has it after its offline steps; raises what Ray raises."""
    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)
    return prepared


def head_commands(config: dict) -> list[str]:
    return config.get("head_setup_commands", []) + config["head_start_ray_commands"]


def worker_commands(config: dict) -> list[str]:
    return config.get("worker_setup_commands", []) + config["worker_start_ray_commands"]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt or name lookup fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("cluster config validation tried to reach the network")

    for owner, name in (
        (socket.socket, "connect"),
        (socket.socket, "connect_ex"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
    ):
        monkeypatch.setattr(owner, name, refuse)


@pytest.mark.parametrize("path", CONFIGS)
def test_ray_accepts_the_config_without_the_network(path, no_network):
    prepared = ray_checked(load(path))
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_the_aws_gpu_workers_are_g6e_l40s_and_one_type_has_4_gpus():
    config = load(AWS)
    types = config["available_node_types"]
    workers = {name: spec for name, spec in types.items() if name != config["head_node_type"]}
    assert workers
    for name, spec in workers.items():
        instance = spec["node_config"]["InstanceType"]
        assert instance in G6E, f"{name}: {instance} is not a g6e (L40S 48 GB) size"
        vcpus, gpus = G6E[instance]
        assert spec["resources"]["GPU"] == gpus, f"{name}: {instance} has {gpus} GPUs"
        assert 0 < spec["resources"]["CPU"] <= vcpus
        assert spec["resources"]["accelerator_type:L40S"] == 1
        assert spec["node_config"]["ImageId"], f"{name}: no AMI"
        assert "IamInstanceProfile" in spec["node_config"], f"{name}: no S3 access for the worker"
    assert any(spec["resources"]["GPU"] == 4 for spec in workers.values())


def test_the_aws_head_has_no_gpu():
    config = load(AWS)
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    assert not head["node_config"]["InstanceType"].startswith(("g", "p"))


def test_the_papers_training_fits_one_4_gpu_worker():
    train = load_config(ROOT / "ray_configs" / "humanml3d.yaml").train
    config = load(AWS)
    fits = [
        name
        for name, spec in config["available_node_types"].items()
        if spec["resources"].get("GPU", 0) >= train.num_workers
        and spec["resources"]["CPU"]
        >= train.num_workers * train.cpus_per_worker + train.decode_tasks * train.decode_cpus
    ]
    assert fits, "no node type holds the 4 GPU workers of ray_configs/humanml3d.yaml and their decode tasks"


def test_the_aws_worker_bounds_are_consistent():
    config = load(AWS)
    types = config["available_node_types"].values()
    assert config["max_workers"] >= sum(spec.get("min_workers", 0) for spec in types)
    for spec in types:  # Ray checks only the sum against the global bound
        assert spec.get("min_workers", 0) <= spec.get("max_workers", config["max_workers"]) <= config["max_workers"]
    assert config["idle_timeout_minutes"] > 0
    assert isinstance(config["provider"]["cache_stopped_nodes"], bool)


@pytest.mark.parametrize("path", CONFIGS)
def test_every_node_installs_this_project_from_the_lock(path):
    config = load(path)
    assert repo_root_on_nodes(config) == f"/home/{config['auth']['ssh_user']}/lavimo"  # ~/lavimo below
    installs = [command for command in config["setup_commands"] if "-c requirements.lock -e ." in command]
    assert installs, "no setup command installs the project with its pinned versions"
    assert all(command.startswith("cd ~/lavimo &&") for command in installs)
    assert "pip install" in installs[0]
    assert f"ray=={ray.__version__}\n" in (ROOT / "requirements.lock").read_text(), (
        "the cluster must run the Ray that launches it"
    )


@pytest.mark.parametrize("path", CONFIGS)
def test_the_head_serves_mlflow_and_every_node_is_pointed_at_it(path):
    config = load(path)
    servers = [command for command in head_commands(config) if "mlflow server" in command]
    assert len(servers) == 1
    assert "--host 0.0.0.0" in servers[0] and "--port 5000" in servers[0]
    assert "--backend-store-uri sqlite:////" in servers[0]
    assert not any("mlflow server" in command for command in worker_commands(config) + config["setup_commands"])
    for commands in (config["head_start_ray_commands"], config["worker_start_ray_commands"]):
        start = next(command for command in commands if "ray start" in command)
        assert "export MLFLOW_TRACKING_URI=" in start and ":5000" in start
        assert start.index("MLFLOW_TRACKING_URI") < start.index("ray start")
        assert commands[0] == "ray stop"


@pytest.mark.parametrize("path", CONFIGS)
def test_the_dashboard_listens_and_token_auth_is_on(path):
    config = load(path)
    head_start = next(command for command in config["head_start_ray_commands"] if "ray start --head" in command)
    assert "--dashboard-host=0.0.0.0" in head_start and "--dashboard-port=8265" in head_start
    assert any("export RAY_AUTH_MODE=token" in command for command in config["initialization_commands"])
    assert any(remote.endswith("/.ray/auth_token") for remote in config["file_mounts"])


def repo_root_on_nodes(config: dict) -> str:
    """The remote folder the repository's parts are mounted into (one for all of them)."""
    roots = {
        remote.rsplit("/", 1)[0]
        for remote, local in config["file_mounts"].items()
        if Path(local).parts and Path(local).parts[0] in REPO_PARTS
    }
    assert len(roots) == 1, f"repository parts mounted under several folders: {roots}"
    return roots.pop()


@pytest.mark.parametrize("path", CONFIGS)
def test_the_mounts_carry_the_repository_but_not_venv_or_outputs(path):
    config = load(path)
    mounts = config["file_mounts"]
    root = repo_root_on_nodes(config)
    mounted = {Path(local).name for remote, local in mounts.items() if remote.startswith(root + "/")}
    assert mounted == REPO_PARTS
    for local in mounts.values():
        if not local.startswith("~"):
            assert (ROOT / local).exists(), f"file mount {local!r} does not exist in the repository"
            assert (ROOT / local).resolve() != ROOT, "mounting the repository root would copy .venv and outputs"
            assert Path(local).parts[0] not in {".venv", "outputs"}
    assert {".venv", "outputs", ".git"} <= set(config["rsync_exclude"])


def test_the_onprem_cluster_lists_private_hosts_and_an_ssh_key():
    config = load(ONPREM)
    provider = config["provider"]
    assert provider["type"] == "local"
    hosts = [provider["head_ip"], *provider["worker_ips"]]
    assert all(ipaddress.ip_address(host).is_private for host in hosts)
    assert len(set(hosts)) == len(hosts) and provider["worker_ips"]
    assert config["auth"]["ssh_user"] and config["auth"]["ssh_private_key"]
    assert "available_node_types" not in config  # Ray builds the single local node type itself
    head_start = next(command for command in config["head_start_ray_commands"] if "ray start --head" in command)
    assert f"MLFLOW_TRACKING_URI=http://{provider['head_ip']}:5000" in head_start
    (node_type,) = ray_checked(config)["available_node_types"].values()
    assert node_type["min_workers"] == node_type["max_workers"] == len(provider["worker_ips"])


# The same validation refuses broken copies, so passing it above means something.


@pytest.mark.parametrize("path", CONFIGS)
def test_an_unknown_top_level_key_is_refused(path, no_network):
    broken = load(path)
    broken["gpu_workers"] = 4
    with pytest.raises(jsonschema.ValidationError, match="gpu_workers"):
        ray_checked(broken)


def test_more_min_workers_than_the_cluster_allows_is_refused(no_network):
    broken = load(AWS)
    broken["available_node_types"]["gpu_4x_l40s"]["min_workers"] = broken["max_workers"] + 1
    with pytest.raises(ValueError, match="max_workers"):
        ray_checked(broken)


def test_fractional_resources_are_refused(no_network):
    broken = load(AWS)
    broken["available_node_types"]["gpu_1x_l40s"]["resources"]["CPU"] = 15.5
    with pytest.raises(jsonschema.ValidationError, match="15.5"):
        ray_checked(broken)


def test_an_onprem_cluster_without_worker_addresses_is_refused(no_network):
    broken = load(ONPREM)
    del broken["provider"]["worker_ips"]
    with pytest.raises(click.ClickException, match="worker_ips"):
        ray_checked(broken)
