"""Prepare a dataset for training on Ray: render missing videos, embed captions, write Parquet manifests."""

from __future__ import annotations

from lavimo import pretrained
from lavimo.cli import job_parser, setup_logging
from lavimo.config import load_config
from lavimo.prepare.dataset import ensure_synthetic_dataset, prepare_dataset
from lavimo.ray_cluster import connect


def main(argv: list[str] | None = None) -> None:
    args = job_parser(__doc__).parse_args(argv)
    setup_logging()
    config = load_config(args.config, args.set)
    pretrained.check(config.pretrained_sources("prepare.sentence_model"))
    connect()
    ensure_synthetic_dataset(config.data)
    print(prepare_dataset(config).describe())


if __name__ == "__main__":
    main()
