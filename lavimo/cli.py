"""The command line every job shares: --config and --set, and logging."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"


def job_parser(description: str) -> argparse.ArgumentParser:
    """A parser with --config (default: the embedded CPU demo) and repeatable --set key=value overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: %(default)s)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=10 (repeatable)",
    )
    return parser


def add_checkpoint_source(parser: argparse.ArgumentParser) -> None:
    """--checkpoint FOLDER or --model models:/NAME@ALIAS (or models:/NAME/VERSION), one of them required."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a checkpoint folder of a training run")
    source.add_argument(
        "--model",
        metavar="models:/NAME@ALIAS",
        help="a version in MLflow's model registry at MLFLOW_TRACKING_URI (models:/NAME@ALIAS or "
        "models:/NAME/VERSION), downloaded once into ~/.cache/lavimo/models",
    )


def checkpoint_source(args: argparse.Namespace) -> str:
    """The local checkpoint folder that --checkpoint or --model names."""
    if args.checkpoint:
        return args.checkpoint
    from lavimo.registry import RegistryError, model_checkpoint  # imported here: MLflow only when --model is used

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise SystemExit(f"--model {args.model}: set MLFLOW_TRACKING_URI to the server that holds the registry")
    try:
        return model_checkpoint(uri, args.model)
    except RegistryError as err:
        raise SystemExit(f"--model: {err}") from None


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
