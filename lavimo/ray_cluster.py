"""Connecting a job to Ray: the cluster in RAY_ADDRESS, or a new local one."""

from __future__ import annotations

import json
import logging
import math
import os

import ray
import ray.data

log = logging.getLogger(__name__)
JOB_CONFIG_VARIABLE = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray's job manager for a submitted job's driver


def connect(min_local_cpus: float = 0) -> None:
    """Joins the cluster named by RAY_ADDRESS (as `ray job submit` sets it) or starts a local one.

    A local cluster gets at least `min_local_cpus` logical CPUs, so that the train workers, the decode tasks and
    Ray Data's read tasks can all be scheduled at once even on a 2-core machine (they share the cores).
    """
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    # Ray Data's progress bars flood non-interactive logs; the jobs log their own progress. The driver's
    # DataContext travels to the train workers, so it is switched off there as well as by the variable.
    quiet = {"RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    ray.data.DataContext.get_current().enable_progress_bars = False
    num_cpus = None if address else max(os.cpu_count() or 1, math.ceil(min_local_cpus))
    # "local": a new cluster even when `ray start` clusters run on this machine (Ray would join one of them)
    ray.init(
        address=address or "local",
        num_cpus=num_cpus,
        log_to_driver=True,
        runtime_env={"env_vars": driver_env_vars({**mlflow_client_settings(), **quiet})},
    )
    where = address or "a new local cluster"
    log.info("connected to %s with %s CPUs", where, ray.cluster_resources().get("CPU", 0))


def mlflow_client_settings() -> dict[str, str]:
    """The driver's MLFLOW_* variables (credentials, HTTP retries and timeouts, LAVIMO_MLFLOW_FLUSH_S): rank 0 logs
    from a worker process, which gets them through the job's runtime environment."""
    return {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_") or k == "LAVIMO_MLFLOW_FLUSH_S"}


def driver_env_vars(wanted: dict[str, str]) -> dict[str, str]:
    """`wanted` without the variables a submitted job's runtime environment sets already: `ray job submit
    --runtime-env-json` passes those to every worker itself, and Ray refuses a key set twice."""
    injected = json.loads(os.environ.get(JOB_CONFIG_VARIABLE) or "{}")
    taken = (injected.get("runtime_env") or {}).get("env_vars") or {}
    return {key: value for key, value in wanted.items() if key not in taken}


def gpus_per_actor() -> float:
    """1 when the connected cluster has GPUs (inference actors then take one each), else 0."""
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
