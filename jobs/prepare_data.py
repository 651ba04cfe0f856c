"""Prepare a dataset for training on Ray: render missing videos, embed captions, write Parquet manifests."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lavimo.config import load_config
from lavimo.data.prepare import ensure_synthetic_dataset, prepare_dataset
from lavimo.ray_cluster import connect

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set data.root=/data/HumanML3D (repeatable)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.config, args.set)
    connect()
    ensure_synthetic_dataset(config.data)
    summary = prepare_dataset(config)
    print(summary.describe())


if __name__ == "__main__":
    main()
