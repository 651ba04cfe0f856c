"""A motion search service for the tests: a small prepared HumanML3D-layout folder, an untrained cpu_demo model
saved as a checkpoint, its motion index embedded here (by the code the Ray actors run), and `jobs/serve.py`
on the session's Ray head, on a free localhost port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import torch

from lavimo.checkpoint import save_checkpoint
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.data.samples import SampleBuilder, manifest_batch, stream_table
from lavimo.eval.evaluate import CheckpointEmbedder, split_embeddings
from lavimo.eval.index import MotionIndex
from lavimo.eval.retrieval import index_location, motion_records
from lavimo.models import LavimoModel
from lavimo.sample_streams import builder_arguments
from lavimo.skeleton import HUMANML3D
from tests.folders import prepare_here, write_dataset

REPO = Path(__file__).resolve().parents[1]
SPLITS = {
    "train": ["000001", "M000001", "000002", "M000002"],
    "val": ["000003"],
    "test": ["000004", "M000004", "000005", "M000005", "000006", "M000006"],
}
CAPTIONS = ["a person walks forward", "a person jumps twice", "someone waves with the left hand"]
SERVICE_UPLOAD_MB = 4  # the test service's upload limit: the clips are far smaller, an over-limit upload is cheap


@dataclass(frozen=True)
class Service:
    url: str  # http://127.0.0.1:PORT
    checkpoint: str
    motion_ids: list[str]
    videos: dict[str, str]  # motion id -> its rendered clip (view 0)
    data_root: Path  # the HumanML3D-layout dataset folder of the motions
    log: Path


def make_library(tmp: Path) -> tuple[str, list[str], dict[str, str]]:
    """(checkpoint folder, motion ids, id -> video path): a prepared folder, a checkpoint and its saved index."""
    ids = [i for split in SPLITS.values() for i in split]
    captions = {i: [f"{CAPTIONS[n % len(CAPTIONS)]}#a/DET person/NOUN#0.0#0.0"] for n, i in enumerate(ids)}
    root = write_dataset(tmp / "data", HUMANML3D, captions, SPLITS, num_frames=30)
    config, _ = prepare_here(root, tmp / "prepared")
    torch.manual_seed(0)
    folder = str(save_checkpoint(tmp / "run" / "checkpoint_1", LavimoModel(config.model), {}, config, {"epoch": 0}))
    splits = list(config.data.splits)
    index_ids, vectors = [], []
    for split in splits:
        location = manifest_path(config.data.prepared, split)
        table, _ = read_manifest(location)
        samples = SampleBuilder(**builder_arguments(config, split), training=False)(manifest_batch(stream_table(table)))
        embedded = split_embeddings(table, [CheckpointEmbedder(folder)(samples)], config.stream.crop_frames, location)
        index_ids += embedded.ids
        vectors.append(embedded.vectors["motion"])  # (N_split, C)
    records = motion_records(config.data.prepared, splits)
    MotionIndex.build(
        index_ids,
        np.concatenate(vectors),
        durations=[records[i].duration_s for i in index_ids],
        captions=[records[i].captions for i in index_ids],
    ).save(index_location(folder, config.data.prepared, splits))
    return folder, index_ids, {i: records[i].video_path for i in index_ids}


def start_service(tmp: Path, ray_address: str, port: int, *extra: str, timeout_s: float = 300):
    """jobs/serve.py on the library of make_library; (the process, Service) once /healthz answers."""
    folder, ids, videos = make_library(tmp)
    log = tmp / "serve.log"
    command = [sys.executable, str(REPO / "jobs" / "serve.py"), "--checkpoint", folder, "--port", str(port), *extra]
    with open(log, "w") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=dict(os.environ, RAY_ADDRESS=ray_address),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(f"http://127.0.0.1:{port}", folder, ids, videos, tmp / "data", log)
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"jobs/serve.py ended:\n{log.read_text()[-5000:]}"
        assert time.monotonic() < deadline, (
            f"no answer from {service.url} after {timeout_s} s:\n{log.read_text()[-5000:]}"
        )
        try:
            if "serving " in log.read_text() and requests.get(f"{service.url}/healthz", timeout=5).ok:
                return process, service
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or no replica ready yet
            pass
        time.sleep(1)


def stop_service(process: subprocess.Popen) -> int:
    """Ctrl+C, as a user stops it; its exit code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
