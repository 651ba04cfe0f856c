"""The paper's ablations as a Markdown table: mean and spread of test metrics over repeated training runs.

    python benchmarks/ablation_table.py "3-modal, λ_recon 0.1=outputs/runs/A outputs/runs/B" \
        "3-modal, λ_recon 0=outputs/runs/C outputs/runs/D" "2-modal=outputs/runs/E outputs/runs/F"

Each argument is LABEL=RUN_FOLDER [RUN_FOLDER ...]: the runs of one variant (jobs/train.py writes each run's test
evaluation to RUN_FOLDER/test_evaluation/results.json). Every cell is "mean (min–max)" over the variant's runs of
the All protocol on the test split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

COLUMNS = [
    ("t2m", "R@1"),
    ("t2m", "R@10"),
    ("t2m", "MedR"),
    ("m2t", "R@1"),
    ("m2t", "R@10"),
    ("m2t", "MedR"),
    ("v2m", "R@1"),
    ("v2m", "R@10"),
    ("v2m", "MedR"),
]


def variant_row(label: str, folders: list[str]) -> str:
    results = [
        json.loads((Path(f) / "test_evaluation" / "results.json").read_text())["protocols"]["all"] for f in folders
    ]
    cells = []
    for direction, metric in COLUMNS:
        values = [r[direction][metric] for r in results if direction in r]
        cells.append("—" if not values else f"{np.mean(values):.2f} ({min(values):.2f}–{max(values):.2f})")
    return f"| {label} | {len(folders)} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", metavar="LABEL=RUN_FOLDER [RUN_FOLDER ...]")
    args = parser.parse_args()
    header = "| variant | runs | " + " | ".join(f"{d} {m}" for d, m in COLUMNS) + " |"
    print(header)
    print("|---|---:|" + "---:|" * len(COLUMNS))
    for variant in args.variants:
        label, _, folders = variant.partition("=")
        print(variant_row(label, folders.split()))


if __name__ == "__main__":
    main()
