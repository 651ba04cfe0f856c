"""Decoding videos with decord: probing, frames as displayed (phone rotation metadata), time windows, uniform frame
indices, chosen frames in order, and clear errors."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from lavimo.data.video import VideoError, decode_frames, frame_window, probe_video, uniform_frame_indices

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def write_clip(
    path,
    images: np.ndarray,
    fps: Fraction = Fraction(30000, 1001),
    *,
    rotate: int = 0,
    codec: str = "libx264",
    options: dict | None = None,
):
    """images: (N, H, W, 3) uint8 RGB as a player should show them -> an mp4 stored as a phone stores it: with
    rotate (the `rotate` tag: degrees a player turns the stored frames clockwise; 90 for a portrait phone clip),
    the frames are kept turned back by that much (landscape) and the display matrix says how to show them."""
    stored = np.rot90(images, k=rotate // 90, axes=(1, 2))  # (N, H', W', 3): counter-clockwise by `rotate`
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = stored.shape[2], stored.shape[1], "yuv420p"
        stream.options = options or {}
        if rotate:
            stream.set_display_rotation(-rotate)  # PyAV counts counter-clockwise
        for i, image in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def brightness_frames(frames: int = 24, width: int = 96, height: int = 64) -> np.ndarray:
    """(N, H, W, 3): frame i has brightness 8 * i + 10, with a red band over the left quarter."""
    images = np.repeat((8 * np.arange(frames, dtype=np.uint8) + 10)[:, None, None, None], 3, axis=3)
    images = np.ascontiguousarray(np.broadcast_to(images, (frames, height, width, 3)))
    images[:, :, : width // 4, 0] = 255
    return images


def write_filmed_clip(path, frames: int = 24, width: int = 96, height: int = 64, fps: Fraction = Fraction(30000, 1001)):
    """An mp4 like a phone's: non-square, NTSC rate, B-frames and a long GOP. Frame i has brightness 8 * i."""
    return write_clip(
        path, brightness_frames(frames, width, height), fps, options={"preset": "medium", "bf": "3", "g": "250"}
    )


def marked_scene(frames: int = 3, width: int = 48, height: int = 80) -> np.ndarray:
    """(N, H, W, 3) grey frames with a red square in the top-left corner: where it lands tells the orientation."""
    images = np.full((frames, height, width, 3), 90, np.uint8)
    images[:, :16, :16] = RED
    return images


def is_colour(pixels: np.ndarray, colour) -> bool:
    """pixels (..., 3) all within 60 of an RGB colour (H.264 and chroma subsampling blur edges a little)."""
    return bool((np.abs(pixels.astype(int) - np.array(colour)) < 60).all())


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


def _display_rotation(path) -> int:
    """What PyAV reads back from the file: the display matrix's counter-clockwise turn of the first frame."""
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).rotation


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_phone_clips_decode_as_displayed(tmp_path, rotate):
    """A portrait 48x80 clip stored as a phone does (landscape frames and rotation metadata) decodes upright:
    portrait size, red marker back in the top-left corner. 48 pixels wide also meets decord's padded-row bug."""
    clip = write_clip(tmp_path / f"portrait_{rotate}.mp4", marked_scene(), rotate=rotate)
    assert (_display_rotation(clip) + rotate) % 360 == 0  # the file carries the metadata a phone writes
    meta = probe_video(clip)
    assert (meta.width, meta.height, meta.num_frames) == (48, 80, 3)
    frames = decode_frames(clip, [2, 0])
    assert frames.shape == (2, 80, 48, 3)
    assert is_colour(frames[:, 2:14, 2:14], RED)
    for corner in (frames[:, 2:14, -14:-2], frames[:, -14:-2, 2:14], frames[:, -14:-2, -14:-2]):
        assert is_colour(corner, (90, 90, 90))


@pytest.mark.parametrize(("fps", "codec"), [(Fraction(15, 2), "libx264"), (Fraction(60), "mpeg4")])
def test_odd_frame_rates_probe_and_decode(tmp_path, fps, codec):
    clip = write_clip(tmp_path / "rate.mp4", brightness_frames(24), fps, codec=codec)
    meta = probe_video(clip)
    assert meta.num_frames == 24 and meta.fps == pytest.approx(float(fps), rel=1e-3)
    green = decode_frames(clip, [23, 5])[:, :, 48:, 1].mean(axis=(1, 2))
    assert green == pytest.approx([8 * 23 + 10, 8 * 5 + 10], abs=6)


@pytest.fixture(scope="module")
def ten_fps(tmp_path_factory):
    """24 frames at 10 fps: frame i is on screen from i / 10 s to (i + 1) / 10 s; the video lasts 2.4 s."""
    return write_clip(tmp_path_factory.mktemp("videos") / "ten.mp4", brightness_frames(24), Fraction(10))


def test_frame_window_takes_the_frames_whose_middle_is_inside(ten_fps):
    assert frame_window(ten_fps) == (0, 24)
    assert frame_window(ten_fps, 0.5, 1.3) == (5, 13)  # middles 0.55 ... 1.25 s
    assert frame_window(ten_fps, 0.52, 0.54) == (5, 6)  # shorter than a frame: the one on screen
    assert frame_window(ten_fps, 2.36) == (23, 24)  # the last frame's middle (2.35 s) is before the start
    with pytest.raises(VideoError, match=r"ten.mp4: the window starts at 2.5 s, .* end \(2.40 s\)"):
        frame_window(ten_fps, 2.5, 3.0)
    with pytest.raises(ValueError, match="start < end"):
        frame_window(ten_fps, 1.0, 1.0)
