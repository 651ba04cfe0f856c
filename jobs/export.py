"""Write motions of a dataset folder as BVH (for Blender, Maya, MotionBuilder, ...) or as joint positions (.npy)."""

from __future__ import annotations

import sys

from lavimo import storage
from lavimo.cli import job_parser, setup_logging
from lavimo.config import load_config
from lavimo.data.datasets import DATASET_SPECS
from lavimo.export.motions import FORMATS, ExportError, export_motion
from lavimo.prepare.dataset import ensure_synthetic_dataset


def main(argv: list[str] | None = None) -> None:
    parser = job_parser(__doc__)
    parser.add_argument(
        "--id",
        action="append",
        required=True,
        dest="ids",
        metavar="MOTION_ID",
        help="a motion id of the dataset (data.root of the config), e.g. 000021 (repeatable)",
    )
    parser.add_argument(
        "--out", required=True, help="the file to write (one --id), or a folder that gets ID.FORMAT per --id"
    )
    parser.add_argument("--format", choices=FORMATS, default="bvh", help="default: %(default)s")
    args = parser.parse_args(argv)
    setup_logging()
    config = load_config(args.config, args.set)
    ensure_synthetic_dataset(config.data)
    spec = DATASET_SPECS[config.data.dataset]
    try:
        files = {motion_id: export_motion(config.data.root, spec, motion_id, args.format) for motion_id in args.ids}
    except ExportError as err:
        sys.exit(f"export: {err}")
    for motion_id, data in files.items():  # written only once every motion is exported
        target = args.out if len(args.ids) == 1 else storage.join(args.out, f"{motion_id}.{args.format}")
        storage.write_bytes_atomic(storage.absolute(target), data)
        print(f"{motion_id}: {target}")


if __name__ == "__main__":
    main()
