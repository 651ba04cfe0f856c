"""Sweep LAVIMO's hyper-parameters with Ray Tune, each trial a full distributed training run on Ray Train."""

from __future__ import annotations

from pathlib import Path

from lavimo import pretrained
from lavimo.cli import job_parser, setup_logging
from lavimo.ray_cluster import connect
from lavimo.train.sweep import load_sweep, run_sweep

DEFAULT_SWEEP = Path(__file__).resolve().parents[1] / "ray_configs" / "tune_cpu_demo.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = job_parser(__doc__)
    parser.set_defaults(config=str(DEFAULT_SWEEP))  # --config: a sweep YAML; --set: keys of its base config
    parser.add_argument(
        "--resume",
        metavar="SWEEP_NAME",
        help="resume the interrupted sweep of this name under its storage_path (errored trials too)",
    )
    args = parser.parse_args(argv)
    setup_logging()
    sweep = load_sweep(args.config, args.set)
    pretrained.check(sweep.base.pretrained_sources())
    connect(min_local_cpus=sweep.cpus_needed())
    print(run_sweep(sweep, resume=args.resume).describe())


if __name__ == "__main__":
    main()
