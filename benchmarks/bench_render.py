"""Benchmark of motion-video rendering: the first renderer's look against the randomised look and the held-out style,
and keyframe intervals.

Renders N synthetic motions of T frames (half walking, half in place) in one process with OpenCV and x264 held
to one thread, so frames/s are per core. Every look renders the same motions at the same resolution: the pinned
look is cpu_demo's render settings, the randomised look the defaults (each clip its own draw), the held-out style
the test split's second rendering (lavimo/render/heldout.py). CPU time
(process_time) is reported next to wall time: on a shared machine it is the steadier of the two. With --gops,
a second table compares keyframe intervals (encode only, draw + encode, decord sampling) on the pinned look.
Prints Markdown tables.

    PYTHONPATH=. python benchmarks/bench_render.py --clips 6 --frames 200 [--gops 1,10,30,default] [--sheet out.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lavimo.config import load_config
from lavimo.data.video import decode_frames, probe_video, uniform_frame_indices
from lavimo.render.config import HeldOutConfig, RenderConfig
from lavimo.render.encode import EncoderSettings, H264Writer
from lavimo.render.heldout import draw_held_out_look
from lavimo.render.poses import walking_motion
from lavimo.render.randomise import ClipLook, draw_look
from lavimo.render.video import draw_scene_frame, prepare_scene, render_motion_video
from lavimo.skeleton import SKELETONS

PINNED = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6, help="number of motions (N)")
    parser.add_argument("--frames", type=int, default=200, help="frames per motion (T)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--skeleton", default="humanml3d", choices=sorted(SKELETONS))
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument(
        "--gops",
        default="",
        help="keyframe intervals to compare, e.g. 1,10,30,default ('default' = x264's own); empty: skip that table",
    )
    parser.add_argument("--samples", type=int, default=8, help="frames decord decodes per clip")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings: best of this many")
    parser.add_argument("--out-dir", default=None, help="where videos go (default: a temporary folder)")
    parser.add_argument("--sheet", default=None, help="also write a PNG of every clip's middle frame, a row per look")
    return parser.parse_args()


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def make_motions(skeleton, count: int, frames: int) -> list[np.ndarray]:
    """Half walking, half in place; alternating arm poses. (T, J, 3) in skeleton units."""
    return [
        walking_motion(
            skeleton,
            frames,
            speed_mps=1.3 if i % 2 == 0 else 0.0,
            raise_right_arm=i % 4 >= 2,
            stride_hz=0.7 + 0.1 * (i % 3),
        )
        for i in range(count)
    ]


def draw_looks(settings: RenderConfig, count: int) -> list[ClipLook]:
    return [draw_look(settings, f"{i:06d}") for i in range(count)]


def bench_draw(motions, skeleton, looks, resolution: int) -> tuple[Clock, list[np.ndarray]]:
    """Scene preparation and drawing only; returns the clock and every frame (kept for the encode-only run).

    Frames are copied into memory allocated and touched beforehand, so page faults are not timed.
    """
    clips = [np.ones((len(m), resolution, resolution, 3), np.uint8) for m in motions]  # (T, H, W, 3) each
    image = np.empty((resolution, resolution, 3), np.uint8)
    with Clock() as clock:
        for i, (joints, look) in enumerate(zip(motions, looks)):
            scene = prepare_scene(joints, skeleton, look, resolution)
            for t in range(scene.num_frames):
                np.copyto(clips[i][t], draw_scene_frame(image, scene, t))
    return clock, clips


def bench_encode(clips, out_dir: Path, fps: float, settings: EncoderSettings) -> Clock:
    """RGB -> I420 conversion and x264 encoding of already drawn frames: clips [N] (T, H, W, 3) uint8."""
    with Clock() as clock:
        for i, frames in enumerate(clips):
            with H264Writer(out_dir / f"enc_{i}.mp4", frames.shape[2], frames.shape[1], fps, settings) as out:
                for frame in frames:
                    out.write(frame)
    return clock


def bench_both(
    motions, skeleton, looks, out_dir: Path, name: str, resolution: int, gop, preset: str
) -> tuple[Clock, list[Path]]:
    paths = [out_dir / f"{name}_{i}.mp4" for i in range(len(motions))]
    with Clock() as clock:
        for joints, look, path in zip(motions, looks, paths):
            render_motion_video(
                joints, skeleton, path, look=look, resolution=resolution, keyframe_interval=gop, preset=preset
            )
    return clock, paths


def bench_decode(paths: list[Path], samples: int, repeats: int) -> Clock:
    """Best-of-repeats clock for opening every file and decoding `samples` uniformly spread frames of it.

    The frame count is known beforehand (training reads it from the manifest), so probing is not timed.
    """
    indices = [uniform_frame_indices(0, n, samples) for n in (probe_video(p).num_frames for p in paths)]
    best = None
    for _ in range(repeats):
        with Clock() as clock:
            for path, chosen in zip(paths, indices):
                decode_frames(path, chosen)
        best = clock if best is None or clock.cpu < best.cpu else best
    return best


def compare_looks(motions, skeleton, out_dir: Path, args) -> list[ClipLook]:
    """The look table: the same motions in the pinned and the randomised look, and in the held-out style. Returns
    the pinned looks."""
    total = sum(len(m) for m in motions)
    pinned = load_config(PINNED).render.replace(resolution=args.resolution)
    families = {
        "pinned (cpu_demo: the first renderer's look)": draw_looks(pinned, len(motions)),
        "randomised (the defaults)": draw_looks(RenderConfig(resolution=args.resolution), len(motions)),
        "held-out style (test split only)": [
            draw_held_out_look(HeldOutConfig(), f"{i:06d}") for i in range(len(motions))
        ],
    }
    print("| look | draw only, frames/s | draw + encode, frames/s | KB per motion | KB per s of video |")
    print("|---|---|---|---|---|")
    rows = []  # per look, the clips' middle frames side by side
    for index, (name, looks) in enumerate(families.items()):
        draw, clips = bench_draw(motions, skeleton, looks, args.resolution)
        rows.append(np.concatenate([clip[len(clip) // 2] for clip in clips], axis=1))
        both, paths = bench_both(motions, skeleton, looks, out_dir, f"look{index}", args.resolution, 1, args.preset)
        size = sum(os.path.getsize(p) for p in paths) / 1e3
        print(
            f"| {name} | {total / draw.cpu:.0f} ({total / draw.wall:.0f}) "
            f"| {total / both.cpu:.0f} ({total / both.wall:.0f}) | {size / len(paths):.0f} "
            f"| {size / (total / skeleton.fps):.1f} |"
        )
    if args.sheet:
        cv2.imwrite(args.sheet, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return families["pinned (cpu_demo: the first renderer's look)"]


def compare_gops(motions, skeleton, looks, out_dir: Path, args) -> None:
    total = sum(len(m) for m in motions)
    gops = [None if g.strip() == "default" else int(g) for g in args.gops.split(",")]
    _, clips = bench_draw(motions, skeleton, looks, args.resolution)
    print(
        "\n| keyframe interval | encode only frames/s | draw + encode frames/s "
        "| decord open + 8 frames, ms | KB per s of video |"
    )
    print("|---|---|---|---|---|")
    for gop in gops:
        settings = EncoderSettings(preset=args.preset, crf=looks[0].finish.crf, keyframe_interval=gop)
        encode = bench_encode(clips, out_dir, skeleton.fps, settings)
        both, paths = bench_both(motions, skeleton, looks, out_dir, f"gop{gop}", args.resolution, gop, args.preset)
        decode = bench_decode(paths, args.samples, args.repeats)
        size = sum(os.path.getsize(p) for p in paths) / (total / skeleton.fps) / 1e3
        print(
            f"| {gop or 'x264 default (250)'} | {total / encode.cpu:.0f} ({total / encode.wall:.0f}) "
            f"| {total / both.cpu:.0f} ({total / both.wall:.0f}) "
            f"| {decode.cpu / len(paths) * 1e3:.1f} ({decode.wall / len(paths) * 1e3:.1f}) | {size:.1f} |"
        )


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)  # per-core numbers: no OpenCV worker threads
    skeleton = SKELETONS[args.skeleton]
    motions = make_motions(skeleton, args.clips, args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.out_dir or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"{args.clips} motions x {args.frames} frames, {args.resolution}x{args.resolution}, preset "
            f"{args.preset}, keyframe interval 1, skeleton {skeleton.name}; frames/s = frames per CPU second "
            f"and ms = CPU ms per clip, wall-clock in brackets\n"
        )
        pinned = compare_looks(motions, skeleton, out_dir, args)
        if args.gops:
            compare_gops(motions, skeleton, pinned, out_dir, args)


if __name__ == "__main__":
    main()
