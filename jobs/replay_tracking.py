"""Deliver the MLflow records a job left in its run folder because the tracking server was down at its end
(RUN_FOLDER/mlflow_pending), in the order they were made, each exactly once: a second replay adds nothing."""

from __future__ import annotations

import argparse

from lavimo.cli import setup_logging
from lavimo.tracking import check_reachable
from lavimo.tracking_replay import replay_pending


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_folder", help="the run folder a job named (a training run, or a sweep's folder)")
    parser.add_argument("--tracking-uri", help="deliver there instead of the server the records name")
    args = parser.parse_args(argv)
    setup_logging()
    if args.tracking_uri:
        check_reachable(args.tracking_uri)
    summary = replay_pending(args.run_folder, uri=args.tracking_uri)
    print(f"{summary.delivered} records delivered now, {summary.already} by an earlier replay ({summary.folder})")


if __name__ == "__main__":
    main()
