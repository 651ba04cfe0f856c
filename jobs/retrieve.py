"""Find motions with a trained checkpoint: by a sentence, by any video file, or by a motion of the dataset."""

from __future__ import annotations

import argparse

from lavimo.cli import add_checkpoint_source, checkpoint_source, setup_logging
from lavimo.eval.retrieval_job import RetrievalRequest, describe, run_retrieval
from lavimo.ray_cluster import connect


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_checkpoint_source(parser)
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help='a description, e.g. "a person jumps twice"')
    query.add_argument("--video", help="a video file (any size, orientation, frame rate and length)")
    query.add_argument("--motion", help="the id of a motion in the index: motions like it")
    parser.add_argument("--start", type=float, metavar="SECONDS", help="with --video: use the clip from here")
    parser.add_argument("--end", type=float, metavar="SECONDS", help="with --video: use the clip up to here")
    parser.add_argument(
        "--crop",
        type=_box,
        metavar="X,Y,W,H",
        help="with --video: the region of the displayed frame around the person, in pixels",
    )
    parser.add_argument("-k", type=int, default=5, help="how many motions to return (default: %(default)s)")
    parser.add_argument("--render", metavar="OUT.mp4", help="also write a video of the query and the top k")
    parser.add_argument("--prepared", help="prepared dataset to search (default: the checkpoint's)")
    parser.add_argument("--split", action="append", default=[], help="split(s) to index (default: all)")
    parser.add_argument("--rebuild-index", action="store_true", help="embed the motions again")
    parser.add_argument(
        "--index-dtype",
        choices=["float32", "float16"],
        default="float32",
        help="storage type of a new index (float16: half the memory)",
    )
    args = parser.parse_args(argv)
    setup_logging()
    request = RetrievalRequest(
        checkpoint=checkpoint_source(args),
        text=args.text,
        video=args.video,
        motion=args.motion,
        start=args.start,
        end=args.end,
        crop=args.crop,
        k=args.k,
        prepared=args.prepared,
        splits=tuple(args.split),
        render=args.render,
        rebuild_index=args.rebuild_index,
        index_dtype=args.index_dtype,
    )
    print(describe(request, run_retrieval(request, connect_ray=connect)))


def _box(text: str) -> tuple[int, int, int, int]:
    """ "X,Y,W,H" -> four ints; argparse names --crop in the error when this fails."""
    try:
        x, y, width, height = (int(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H: four whole numbers of pixels, got {text!r}") from None
    return x, y, width, height


if __name__ == "__main__":
    main()
