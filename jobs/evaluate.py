"""Evaluate a checkpoint in the four published protocols (All, All with threshold, Dissimilar subset, Small batches)
and in exact-caption pairs."""

from __future__ import annotations

import argparse

from lavimo.cli import add_checkpoint_source, checkpoint_source, setup_logging
from lavimo.eval.evaluation_job import EvaluationRequest, describe, promote, run_evaluation
from lavimo.ray_cluster import connect, gpus_per_actor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_checkpoint_source(parser)
    parser.add_argument(
        "--alias",
        help="then point this alias of the model registry (e.g. champion) at the model "
        "version of the evaluated checkpoint",
    )
    parser.add_argument("--split", default="test", help="split to evaluate (default: %(default)s)")
    parser.add_argument("--prepared", help="prepared dataset (default: the checkpoint's)")
    parser.add_argument("--out", help="results folder (default: <run folder>/evaluation/<checkpoint>-<split>)")
    parser.add_argument(
        "--dissimilar-ids",
        metavar="FILE",
        help="ids of the Dissimilar subset, one a line (e.g. TMR's nsim_test.txt); default: the "
        "checkpoint's eval.dissimilar_ids, else 100 mutually dissimilar pairs chosen from the "
        "captions, written beside the results",
    )
    parser.add_argument(
        "--published",
        metavar="FILE",
        help="published numbers to show beside ours (JSON, see "
        "lavimo/eval/published.py); default: the LAVIMO "
        "paper's Tables 1-4 for humanml3d and kit",
    )
    parser.add_argument("--workers", type=int, default=1, help="embedding actors (default: %(default)s)")
    parser.add_argument(
        "--gpus-per-worker", type=float, help="GPUs per embedding actor (default: 1 when the cluster has GPUs, else 0)"
    )
    args = parser.parse_args(argv)
    setup_logging()
    connect()
    gpus = args.gpus_per_worker if args.gpus_per_worker is not None else gpus_per_actor()
    request = EvaluationRequest(
        checkpoint=checkpoint_source(args),
        split=args.split,
        prepared=args.prepared,
        folder=args.out,
        dissimilar_ids_file=args.dissimilar_ids,
        published_file=args.published,
        workers=args.workers,
        gpus_per_worker=gpus,
    )
    evaluation, uri, run_id = run_evaluation(request)
    print(describe(evaluation, uri, run_id))
    if args.alias:
        print(promote(evaluation.checkpoint, args.model, args.alias))


if __name__ == "__main__":
    main()
