"""Train LAVIMO on Ray: prepare the data if needed, run distributed training, evaluate the test split."""

from __future__ import annotations

from lavimo import pretrained
from lavimo.cli import job_parser, setup_logging
from lavimo.config import load_config
from lavimo.ray_cluster import connect
from lavimo.train.job import run_training_job
from lavimo.train.trainer import cpus_needed


def main(argv: list[str] | None = None) -> None:
    parser = job_parser(__doc__)
    parser.add_argument(
        "--resume",
        metavar="RUN_NAME",
        help="continue the run of this name under train.storage_path from its last checkpoint",
    )
    args = parser.parse_args(argv)
    setup_logging()
    config = load_config(args.config, args.set)
    pretrained.check(config.pretrained_sources())  # before anything starts: a late failure would cost the run
    connect(min_local_cpus=cpus_needed(config))
    print(run_training_job(config, resume=args.resume).describe())


if __name__ == "__main__":
    main()
