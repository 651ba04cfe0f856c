"""Benchmark of motion-video rendering: drawing, encoding, both, and decord sampling cost per keyframe interval.

Renders N synthetic motions of T frames (half walking, half in place: a moving and a still camera) in one
process with OpenCV and x264 held to one thread, so frames/s are per core. CPU time (process_time) is
reported next to wall time: on a shared machine it is the steadier of the two. Prints a Markdown table.

    PYTHONPATH=. python benchmarks/bench_render.py --motions 6 --frames 200
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lavimo.data.skeleton import SKELETONS
from lavimo.data.video import decode_frames, probe_video, uniform_frame_indices
from lavimo.render.avatars import AVATAR_STYLES
from lavimo.render.draw import draw_frame
from lavimo.render.encode import EncoderSettings, H264Writer
from lavimo.render.poses import walking_motion
from lavimo.render.video import prepare_scene, render_motion_video


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motions", type=int, default=6, help="number of motions (N)")
    parser.add_argument("--frames", type=int, default=200, help="frames per motion (T)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--skeleton", default="humanml3d", choices=sorted(SKELETONS))
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--gops", default="1,10,30,default", help="keyframe intervals; 'default' = x264's own")
    parser.add_argument("--samples", type=int, default=8, help="frames decord decodes per clip")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings: best of this many")
    parser.add_argument("--out-dir", default=None, help="where videos go (default: a temporary folder)")
    return parser.parse_args()


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def make_motions(skeleton, count: int, frames: int) -> list[np.ndarray]:
    """Half walking (camera follows), half in place; alternating arm poses. (T, J, 3) in skeleton units."""
    return [walking_motion(skeleton, frames, speed_mps=1.3 if i % 2 == 0 else 0.0, raise_right_arm=i % 4 >= 2,
                           stride_hz=0.7 + 0.1 * (i % 3)) for i in range(count)]


def bench_draw(motions, skeleton, resolution: int) -> tuple[Clock, list[np.ndarray]]:
    """Scene preparation and drawing only; returns the clock and every frame (kept for the encode-only run).

    Frames are copied into memory allocated and touched beforehand, so page faults are not timed.
    """
    clips = [np.ones((len(m), resolution, resolution, 3), np.uint8) for m in motions]  # (T, H, W, 3) each
    image = np.empty((resolution, resolution, 3), np.uint8)
    with Clock() as clock:
        for i, joints in enumerate(motions):
            scene = prepare_scene(joints, skeleton, AVATAR_STYLES[i % len(AVATAR_STYLES)], resolution)
            for t in range(scene.num_frames):
                np.copyto(clips[i][t], draw_frame(image, scene, t))
    return clock, clips


def bench_encode(clips, out_dir: Path, fps: float, settings: EncoderSettings) -> Clock:
    """RGB -> I420 conversion and x264 encoding of already drawn frames: clips [N] (T, H, W, 3) uint8."""
    with Clock() as clock:
        for i, frames in enumerate(clips):
            with H264Writer(out_dir / f"enc_{i}.mp4", frames.shape[2], frames.shape[1], fps, settings) as out:
                for frame in frames:
                    out.write(frame)
    return clock


def bench_both(motions, skeleton, out_dir: Path, resolution: int, gop, args) -> tuple[Clock, list[Path]]:
    paths = [out_dir / f"gop{gop}_{i}.mp4" for i in range(len(motions))]
    with Clock() as clock:
        for i, (joints, path) in enumerate(zip(motions, paths)):
            render_motion_video(joints, skeleton, path, style=AVATAR_STYLES[i % len(AVATAR_STYLES)],
                                resolution=resolution, keyframe_interval=gop, crf=args.crf, preset=args.preset)
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


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)  # per-core numbers: no OpenCV worker threads
    skeleton = SKELETONS[args.skeleton]
    motions = make_motions(skeleton, args.motions, args.frames)
    total = args.motions * args.frames
    seconds_of_video = total / skeleton.fps
    gops = [None if g.strip() == "default" else int(g) for g in args.gops.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.out_dir or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        draw, clips = bench_draw(motions, skeleton, args.resolution)
        print(f"{args.motions} motions x {args.frames} frames, {args.resolution}x{args.resolution}, preset "
              f"{args.preset}, crf {args.crf}, skeleton {skeleton.name}; frames/s = frames per CPU second and "
              f"ms = CPU ms per clip, wall-clock in brackets\n")
        print(f"draw only (scene preparation + rasterisation): {total / draw.cpu:.0f} frames/s "
              f"({total / draw.wall:.0f})\n")
        print("| keyframe interval | encode only frames/s | draw + encode frames/s "
              "| decord open + 8 frames, ms | KB per s of video |")
        print("|---|---|---|---|---|")
        for gop in gops:
            settings = EncoderSettings(preset=args.preset, crf=args.crf, keyframe_interval=gop)
            encode = bench_encode(clips, out_dir, skeleton.fps, settings)
            both, paths = bench_both(motions, skeleton, out_dir, args.resolution, gop, args)
            decode = bench_decode(paths, args.samples, args.repeats)
            size = sum(os.path.getsize(p) for p in paths) / seconds_of_video / 1e3
            print(f"| {gop or 'x264 default (250)'} | {total / encode.cpu:.0f} ({total / encode.wall:.0f}) "
                  f"| {total / both.cpu:.0f} ({total / both.wall:.0f}) "
                  f"| {decode.cpu / len(paths) * 1e3:.1f} ({decode.wall / len(paths) * 1e3:.1f}) | {size:.1f} |")


if __name__ == "__main__":
    main()
