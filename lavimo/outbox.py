"""MLflow records off the critical path: one queue per (process, run), delivered in order by a background thread
that retries with backoff while the tracking server is down; what is still waiting when the job ends is written
to the run folder (PENDING_FOLDER) and delivered later, exactly once, by `replay`."""

from __future__ import annotations

import atexit
import base64
import collections
import json
import logging
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PENDING_FOLDER = "mlflow_pending"  # in the run folder: records-WRITER.jsonl, artifacts/, delivered.txt
DELIVERED_FILE = "delivered.txt"  # one "FILE SEQ" line per replayed record: a second replay skips them
FLUSH_SECONDS_ENV = "LAVIMO_MLFLOW_FLUSH_S"  # how long the end of a job waits for a down server (default 30 s)
DEFAULT_FLUSH_S = 30.0
FIRST_RETRY_S, LAST_RETRY_S = 1.0, 15.0  # backoff between delivery attempts: doubles from the first to the last
WARN_EVERY_S = 30.0
# MlflowException error codes of a server that answered and refused the record: retrying cannot help
REFUSED = {
    "INVALID_PARAMETER_VALUE",
    "RESOURCE_DOES_NOT_EXIST",
    "RESOURCE_ALREADY_EXISTS",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "BAD_REQUEST",
}


@dataclass
class Record:
    """One MLflow call: kind (metrics | tags | artifact | model | finish), its payload as JSON values, its
    number in this writer's queue and when it was made (Unix ms)."""

    kind: str
    payload: dict[str, Any]
    seq: int
    created_ms: int


def deliver(client, run_id: str, record: Record) -> None:
    """Makes the record's MLflow call. Every kind is idempotent in MLflow (a metric of the same key, step,
    timestamp and value is stored once), so a record delivered twice after a crash changes nothing."""
    from mlflow.entities import Metric, RunTag

    p = record.payload
    if record.kind == "metrics":
        metrics = [Metric(key, float(value), p["timestamp"], p["step"]) for key, value in p["values"].items()]
        client.log_batch(run_id, metrics=metrics)
    elif record.kind == "tags":
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in p["values"].items()])
    elif record.kind == "artifact":
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / p["name"]
            path.write_bytes(base64.b64decode(p["data"]))
            client.log_artifact(run_id, str(path))
    elif record.kind == "model":  # a new model version only when the registry has none of this run's checkpoint
        from lavimo.registry import log_and_register

        log_and_register(client, run_id, p["checkpoint"], p["name"], p["tags"])
    elif record.kind == "finish":
        client.set_terminated(run_id, status=p["status"], end_time=p["end_time_ms"])
    else:
        raise ValueError(f"unknown MLflow record kind {record.kind!r}")


def is_refused(error: Exception) -> bool:
    """The server answered and refused the record (a bad value, a deleted run); anything else may pass later."""
    return getattr(error, "error_code", None) in REFUSED


class Outbox:
    """The queue of one run in this process. `put` never blocks on MLflow; `close` waits up to the flush time
    for the server, then writes what is still waiting to PENDING_FOLDER in `run_folder`."""

    def __init__(self, uri: str, run_id: str, run_folder: str):
        from mlflow.tracking import MlflowClient

        self.uri, self.run_id, self.run_folder = uri, run_id, run_folder
        self.client = MlflowClient(tracking_uri=uri)
        self.writer = f"{socket.gethostname()}-{os.getpid()}-{run_id[:8]}"
        self._queue: collections.deque[Record] = collections.deque()
        self._changed = threading.Condition()
        self._seq = 0
        self._closing = self._stopped = False
        self._down_since: float | None = None  # the first failure of the current outage
        self._last_warning = self._last_delivery = 0.0
        self.refused: list[str] = []  # records the server refused: named in the log, counted at close
        self._thread = threading.Thread(target=self._run, name=f"mlflow-outbox-{run_id[:8]}", daemon=True)
        self._thread.start()

    def put(self, kind: str, payload: dict[str, Any]) -> None:
        with self._changed:
            if self._closing:
                raise RuntimeError(f"MLflow run {self.run_id}: its outbox is closed")
            self._seq += 1
            self._queue.append(Record(kind, payload, self._seq, int(time.time() * 1000)))
            self._changed.notify_all()

    def waiting(self) -> int:
        with self._changed:
            return len(self._queue)

    def close(self, flush_s: float | None = None) -> int:
        """Delivers what is waiting for as long as the server takes records, and up to `flush_s` seconds
        (LAVIMO_MLFLOW_FLUSH_S, default 30 s) without one; writes the rest to the run folder. Returns how many
        were written there."""
        flush_s = float(os.environ.get(FLUSH_SECONDS_ENV, DEFAULT_FLUSH_S)) if flush_s is None else flush_s
        started = time.monotonic()
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            while self._queue:
                left = max(started, self._last_delivery) + flush_s - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(timeout=left)
            self._stopped = True  # no new delivery starts; one in flight may still land (idempotent, see deliver)
            left = list(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        if self.refused:
            log.error(
                "MLflow server %s refused %d records of run %s (named above)", self.uri, len(self.refused), self.run_id
            )
        if not left:
            return 0
        folder = write_pending(self.run_folder, self.writer, self.uri, self.run_id, left)
        log.warning(
            "MLflow server %s still unreachable at the end: %d records of run %s written to %s; deliver them "
            "with: python jobs/replay_tracking.py %s",
            self.uri,
            len(left),
            self.run_id,
            folder,
            self.run_folder,
        )
        return len(left)

    def _run(self) -> None:
        delay = FIRST_RETRY_S
        while True:
            with self._changed:
                while not self._queue and not self._stopped:
                    self._changed.wait()
                if self._stopped:
                    return
                record = self._queue[0]
            try:
                deliver(self.client, self.run_id, record)
            except Exception as error:  # noqa: BLE001 - whatever the client raises, training must not wait
                if is_refused(error):
                    self.refused.append(f"{record.kind} #{record.seq}")
                    log.error(
                        "MLflow server %s refused a %s record of run %s: %s", self.uri, record.kind, self.run_id, error
                    )
                    self._pop(record)
                    continue
                delay = self._wait_after_failure(error, delay)
                continue
            waiting = self._pop(record)
            delay = FIRST_RETRY_S
            if self._down_since is not None and not waiting:
                log.warning(
                    "MLflow server %s reachable again: every record of run %s that waited for it (since "
                    "%.0f s ago) is delivered",
                    self.uri,
                    self.run_id,
                    time.monotonic() - self._down_since,
                )
                self._down_since = None

    def _pop(self, record: Record) -> int:
        """Removes a delivered (or refused) record; returns how many are still waiting."""
        with self._changed:
            if self._queue and self._queue[0] is record:
                self._queue.popleft()
            self._last_delivery = time.monotonic()
            self._changed.notify_all()
            return len(self._queue)

    def _wait_after_failure(self, error: Exception, delay: float) -> float:
        """Warns (at once, then every WARN_EVERY_S) and sleeps `delay` (shorter while closing); the next delay."""
        now = time.monotonic()
        if self._down_since is None:
            self._down_since, self._last_warning = now, 0.0
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                "MLflow server %s unreachable (%s): %d records of run %s waiting, retrying; training goes on",
                self.uri,
                str(error).splitlines()[0][:200],
                self.waiting(),
                self.run_id,
            )
        with self._changed:
            if not self._stopped:
                self._changed.wait(timeout=min(delay, FIRST_RETRY_S) if self._closing else delay)
        return min(delay * 2, LAST_RETRY_S)


def pending_folder(run_folder: str) -> Path:
    """Where a run's undelivered records go: inside a local run folder; under ./outputs for a URI run folder."""
    from lavimo import storage

    if storage.is_uri(run_folder):
        return Path(storage.absolute("outputs")) / PENDING_FOLDER / run_folder.rstrip("/").rsplit("/", 1)[-1]
    return Path(run_folder) / PENDING_FOLDER


def write_pending(run_folder: str, writer: str, uri: str, run_id: str, records: list[Record]) -> Path:
    """Appends the records, one JSON line each and fsync'd, to PENDING_FOLDER/records-WRITER.jsonl: a reader
    sees whole lines only (a last line without its newline is still being written)."""
    folder = pending_folder(run_folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"records-{writer}.jsonl", "a", encoding="utf-8") as out:
        for record in records:
            line = {
                "uri": uri,
                "run_id": run_id,
                "seq": record.seq,
                "created_ms": record.created_ms,
                "kind": record.kind,
                "payload": record.payload,
            }
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
    return folder


_OUTBOXES: dict[tuple[str, str], Outbox] = {}
_LOCK = threading.Lock()


def outbox(uri: str, run_id: str, run_folder: str) -> Outbox:
    """This process's outbox of the run (one queue per run and process, so records stay in order)."""
    with _LOCK:
        box = _OUTBOXES.get((uri, run_id))
        if box is None:
            box = _OUTBOXES[(uri, run_id)] = Outbox(uri, run_id, run_folder)
        return box


def close(box: Outbox, flush_s: float | None = None) -> int:
    """Closes `box` and forgets it (a later RunLogger of its run gets a new one); see Outbox.close."""
    with _LOCK:
        if _OUTBOXES.get((box.uri, box.run_id)) is box:
            del _OUTBOXES[(box.uri, box.run_id)]
    return box.close(flush_s)


def close_all(flush_s: float | None = None) -> int:
    """Closes every outbox of this process (also at exit); returns how many records went to run folders."""
    with _LOCK:
        boxes = list(_OUTBOXES.values())
        _OUTBOXES.clear()
    return sum(box.close(flush_s) for box in boxes)


atexit.register(close_all)
