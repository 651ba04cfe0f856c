"""Published retrieval numbers for the tables: the LAVIMO paper's Tables 1-4 (shipped, PAPER_TABLES), or a user's file.

The file is JSON: {"source": "where the numbers come from", "rows": [row, ...]}, one row per
(dataset, protocol, method, direction):
    {"table": "Table 1", "dataset": "humanml3d", "paper_protocol": "(a) All", "protocol": "all",
     "method": "TMR", "direction": "t2m", "metrics": {"R@1": ..., "R@2": ..., "R@3": ..., "R@5": ...,
     "R@10": ..., "MedR": ...}}
protocol is one of ours: all, threshold_0.95 (TMR's rows: TMR's code used 0.95), threshold_0.8, dissimilar,
small_batches, exact_caption. PAPER_TABLES holds the paper's 132 rows (every method, protocol and direction of
Tables 1-4, transcribed from arXiv:2403.00691v1; its "source" names it): the other methods' rows of Tables 1-2 are
those TMR published (threshold_0.95), LAVIMO's rows and Tables 3-4 use the paper's threshold 0.8.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lavimo.directions import DIRECTIONS
from lavimo.eval.metrics import METRICS
from lavimo.eval.protocols import Results, protocol_label

PAPER_TABLES = Path(__file__).with_name("lavimo_paper_tables.json")
PUBLISHED_DATASETS = ("humanml3d", "kit")  # the datasets PAPER_TABLES has rows for
ROW_KEYS = {"table", "dataset", "paper_protocol", "protocol", "method", "direction", "metrics"}


def published_results(dataset: str, path: Path | str) -> dict[str, dict[str, Results]]:
    """{protocol: {method: {direction: {metric: value}}}} published for a dataset ("humanml3d", "kit");
    empty when the file has no rows for the dataset (e.g. "synthetic")."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read the published numbers ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise ValueError(f'{path}: expected a JSON object with a "rows" list')
    grouped: dict[str, dict[str, Results]] = {}
    for number, row in enumerate(document["rows"]):
        _check_row(row, f"{path}: row {number}")
        if row["dataset"] != dataset:
            continue
        directions = grouped.setdefault(row["protocol"], {}).setdefault(row["method"], {})
        if row["direction"] in directions:
            raise ValueError(f"{path}: row {number} repeats {row['protocol']} / {row['method']} / {row['direction']}")
        directions[row["direction"]] = {metric: float(row["metrics"][metric]) for metric in METRICS}
    return grouped


def _check_row(row: dict, where: str) -> None:
    if set(row) != ROW_KEYS:
        raise ValueError(f"{where}: expected the keys {sorted(ROW_KEYS)}, got {sorted(row)}")
    try:
        protocol_label(row["protocol"])  # refuses an unknown protocol
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    if row["direction"] not in DIRECTIONS:
        raise ValueError(f"{where}: unknown direction {row['direction']!r}, expected one of {list(DIRECTIONS)}")
    metrics = row["metrics"]
    if set(metrics) != set(METRICS):
        raise ValueError(f"{where}: expected the metrics {list(METRICS)}, got {sorted(metrics)}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in metrics.values()):
        raise ValueError(f"{where}: every metric must be a finite number")
