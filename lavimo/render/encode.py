"""H.264 (libx264 via PyAV) mp4 writer: RGB frames in, yuv420p out, single-threaded, written atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from lavimo import storage

# Defaults, measured with benchmarks/bench_render.py at 256x256 on a shared 2-core machine:
# - preset 'ultrafast': the only x264 preset near the budget of ~1 ms per drawn+encoded frame ('superfast'
#   costs ~2x); it also turns off CABAC and the deblocking filter, which makes decoding cheaper.
# - keyframe interval 1 (all-intra): decord seeks once per sampled frame, and each seek then decodes just
#   that frame: open + 8 uniformly sampled frames of a 10 s clip took 11-15 ms, against 21-28 ms with
#   interval 10, ~37 ms with 30 and ~40 ms with x264's default (250); x264 also encodes these intra
#   frames faster than its P frames. The price is size: ~67 KB per second of video against ~43 (10),
#   ~39 (30) and ~37 (250), i.e. ~7 GB instead of ~4 GB for HumanML3D's ~29 hours.
DEFAULT_PRESET = "ultrafast"
DEFAULT_CRF = 23
DEFAULT_KEYFRAME_INTERVAL = 1


@dataclass(frozen=True)
class EncoderSettings:
    """x264 knobs. keyframe_interval None leaves x264's own GOP choice (keyint 250 with scene cuts)."""

    preset: str = DEFAULT_PRESET
    crf: int = DEFAULT_CRF
    keyframe_interval: int | None = DEFAULT_KEYFRAME_INTERVAL
    faststart: bool = True  # index (moov) at the front so range reads from object stores start fast

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {self.crf}")
        if self.keyframe_interval is not None and self.keyframe_interval < 1:
            raise ValueError(f"keyframe_interval must be >= 1 or None, got {self.keyframe_interval}")

    def x264_params(self) -> str:
        params = ["threads=1", "lookahead-threads=1"]
        if self.keyframe_interval is not None:
            k = self.keyframe_interval
            params += [f"keyint={k}", f"min-keyint={k}", "scenecut=0"]
        return ":".join(params)


def fps_fraction(fps: float) -> Fraction:
    """12.5 -> 25/2, 29.97 -> 2997/100: exact enough for the container's frame rate."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    return Fraction(fps).limit_denominator(1001)


class H264Writer:
    """`with H264Writer(path, w, h, fps) as out: out.write(rgb)`; the file appears at `path` only when complete."""

    def __init__(
        self,
        out_path: str | os.PathLike,
        width: int,
        height: int,
        fps: float,
        settings: EncoderSettings = EncoderSettings(),
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"yuv420p needs an even, positive frame size, got {width}x{height}")
        self.path = Path(out_path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: its folder does not exist")
        self.width, self.height = width, height
        self.frames_written = 0
        self._tmp = Path(storage.temporary_sibling(str(self.path)))
        options = {"movflags": "+faststart"} if settings.faststart else {}
        self._container = av.open(str(self._tmp), mode="w", format="mp4", options=options)
        try:
            self._stream = self._open_stream(fps_fraction(fps), settings)
        except Exception:
            self.abort()
            raise

    def _open_stream(self, rate: Fraction, settings: EncoderSettings):
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        context = stream.codec_context
        context.thread_count = 1  # parallelism comes from many videos at once, not from one encoder
        context.color_range = 1  # MPEG (limited) range, BT.601: what cv2's RGB->I420 produces
        context.colorspace = context.color_primaries = context.color_trc = 6  # SMPTE 170M (BT.601)
        if settings.keyframe_interval is not None:
            context.gop_size = settings.keyframe_interval
        stream.options = {"preset": settings.preset, "crf": str(settings.crf), "x264-params": settings.x264_params()}
        return stream

    def write(self, rgb: np.ndarray) -> None:
        """rgb: (H, W, 3) uint8, red first."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"{self.path}: expected a ({self.height}, {self.width}, 3) uint8 frame, got {rgb.shape} {rgb.dtype}"
            )
        i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (H * 3/2, W) planar Y, U, V
        frame = av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")
        frame.pts = self.frames_written
        self._container.mux(self._stream.encode(frame))
        self.frames_written += 1

    def close(self) -> Path:
        """Flushes the encoder, closes the file and renames it to its final path."""
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
        except Exception:
            self.abort()
            raise
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drops the partial file; the target path is left as it was."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - closing a broken container may fail again; the file goes anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
