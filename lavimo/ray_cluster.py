"""Connecting a job to Ray: the cluster in RAY_ADDRESS, or a new local one."""

from __future__ import annotations

import logging
import os

import ray

log = logging.getLogger(__name__)


def connect() -> None:
    """Joins the cluster named by RAY_ADDRESS (as `ray job submit` sets it) or starts a local one."""
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    ray.init(address=address, log_to_driver=True)
    where = address or "a new local cluster"
    log.info("connected to %s with %s CPUs", where, ray.cluster_resources().get("CPU", 0))
