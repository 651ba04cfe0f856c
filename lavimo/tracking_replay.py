"""Replay of the MLflow records a job left in its run folder while the tracking server was down (see lavimo.outbox):
in the order they were made, each exactly once, a delivered record listed in a ledger that a later replay skips."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lavimo.outbox import DELIVERED_FILE, PENDING_FOLDER, Record, deliver, pending_folder
from lavimo.tracking import check_reachable


@dataclass(frozen=True)
class ReplaySummary:
    folder: str
    delivered: int  # now
    already: int  # by an earlier replay


def replay_pending(run_folder: str, uri: str | None = None) -> ReplaySummary:
    """Delivers every pending record of a run folder in the order they were made, each exactly once: a record is
    listed in DELIVERED_FILE as soon as MLflow took it, and skipped by any later replay. `uri` overrides the
    tracking URI the records name (a server that moved). Raises on the first record MLflow does not take."""
    from mlflow.tracking import MlflowClient

    folder = pending_folder(run_folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{run_folder}: no {PENDING_FOLDER} folder, nothing was left to deliver")
    ledger = folder / DELIVERED_FILE
    done = set(ledger.read_text().splitlines()) if ledger.is_file() else set()
    records = sorted(_read_pending(folder), key=lambda item: (item[1]["created_ms"], item[0], item[1]["seq"]))
    clients: dict[str, Any] = {}
    delivered = already = 0
    with open(ledger, "a", encoding="utf-8") as out:
        for name, line in records:
            key = f"{name} {line['seq']}"
            if key in done:
                already += 1
                continue
            target = uri or line["uri"]
            if target not in clients:
                check_reachable(target)  # a clear error naming the server, not MLflow's retries
                clients[target] = MlflowClient(tracking_uri=target)
            client = clients[target]
            deliver(client, line["run_id"], Record(line["kind"], line["payload"], line["seq"], line["created_ms"]))
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
            delivered += 1
    return ReplaySummary(str(folder), delivered, already)


def _read_pending(folder: Path) -> list[tuple[str, dict]]:
    """(file name, record) of every whole line of every records file."""
    found = []
    for path in sorted(folder.glob("records-*.jsonl")):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.split("\n")[:-1], start=1):  # the part after the last newline: unfinished
            try:
                found.append((path.name, json.loads(line)))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not a JSON record ({error})") from None
    return found
