"""The command line every job shares: --config and --set, and logging."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"


def job_parser(description: str) -> argparse.ArgumentParser:
    """A parser with --config (default: the embedded CPU demo) and repeatable --set key=value overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=10 (repeatable)")
    return parser


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
