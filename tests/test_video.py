"""Decoding videos with decord: probing, uniform frame indices, chosen frames in order, and clear errors."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from lavimo.data.video import VideoError, decode_frames, probe_video, uniform_frame_indices


def write_filmed_clip(path, frames: int = 24, width: int = 96, height: int = 64, fps: Fraction = Fraction(30000, 1001)):
    """An mp4 like a phone's: non-square, NTSC rate, B-frames and a long GOP. Frame i has brightness 8 * i."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "medium", "bf": "3", "g": "250"}
        for i in range(frames):
            image = np.full((height, width, 3), 8 * i + 10, np.uint8)
            image[:, : width // 4, 0] = 255  # a red band on the left
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def filmed(tmp_path_factory):
    return write_filmed_clip(tmp_path_factory.mktemp("videos") / "phone.mp4")


def test_probe_reads_count_rate_and_size(filmed):
    meta = probe_video(filmed)
    assert (meta.num_frames, meta.width, meta.height) == (24, 96, 64)
    assert meta.fps == pytest.approx(29.97, abs=0.01)


def test_decode_returns_the_asked_frames_in_the_asked_order(filmed):
    frames = decode_frames(filmed, [20, 3, 20, 0])
    assert frames.shape == (4, 64, 96, 3) and frames.dtype == np.uint8
    brightness = frames[:, :, 48:, 1].mean(axis=(1, 2))  # green channel right of the red band
    assert brightness == pytest.approx([8 * 20 + 10, 8 * 3 + 10, 8 * 20 + 10, 10], abs=4)
    assert frames[0, 10, 5, 0] > 200  # colours come back as RGB, red first


def test_decode_nothing_gives_an_empty_batch(filmed):
    assert decode_frames(filmed, []).shape == (0, 64, 96, 3)


def test_uniform_indices_are_segment_centres():
    assert uniform_frame_indices(0, 16, 8).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    assert uniform_frame_indices(10, 20, 4).tolist() == [11, 13, 16, 18]  # centres 11.25, 13.75, 16.25, 18.75
    assert uniform_frame_indices(0, 3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # short windows repeat frames
    assert uniform_frame_indices(5, 6, 3).tolist() == [5, 5, 5]


def test_uniform_indices_clamp_to_the_video():
    assert uniform_frame_indices(0, 100, 4, num_frames=10).tolist() == [1, 3, 6, 8]
    assert uniform_frame_indices(-5, 4, 2, num_frames=10).tolist() == [1, 3]
    assert uniform_frame_indices(50, 80, 2, num_frames=10).tolist() == [9, 9]
    with pytest.raises(ValueError, match="empty"):
        uniform_frame_indices(4, 4, 2)
    with pytest.raises(ValueError, match="count"):
        uniform_frame_indices(0, 4, 0)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.mp4"
    with pytest.raises(VideoError, match="nowhere.mp4.*no such"):
        decode_frames(path, [0])
    with pytest.raises(VideoError, match="nowhere.mp4"):
        probe_video(path)


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match=str(path)):
        decode_frames(path, [0])
    assert issubclass(VideoError, ValueError)


def test_truncated_file_names_the_path(tmp_path, filmed):
    path = tmp_path / "cut.mp4"
    path.write_bytes(filmed.read_bytes()[:600])
    with pytest.raises(VideoError, match="cut.mp4"):
        decode_frames(path, [0, 10])


def test_out_of_range_indices_name_the_path_and_the_length(filmed):
    with pytest.raises(VideoError, match=r"phone.mp4.*\[24, -1\].*24 frames"):
        decode_frames(filmed, [0, 24, -1])
    with pytest.raises(VideoError, match="integers"):
        decode_frames(filmed, [0.5])
