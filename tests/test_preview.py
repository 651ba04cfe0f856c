"""Preview videos of retrieval results: clips tiled side by side under labels, looped, written atomically."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from lavimo.data.video import VideoError, decode_frames, probe_video
from lavimo.eval.preview import HEADER_HEIGHT, LABEL_HEIGHT, PreviewTile, write_preview
from tests.test_video import write_filmed_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    short = write_filmed_clip(folder / "short.mp4", frames=24, width=96, height=64, fps=Fraction(30000, 1001))
    long = write_filmed_clip(folder / "long.mp4", frames=30, width=64, height=64, fps=Fraction(15))  # 2 s
    return str(short), str(long)


def test_preview_tiles_loops_and_labels_the_clips(clips, tmp_path):
    out = tmp_path / "preview.mp4"
    tiles = [PreviewTile(clips[0], "query video"), PreviewTile(clips[1], "#1 000042  0.912", "2.0 s  a person")]
    write_preview(out, tiles, fps=10, tile_size=64, header='"a person jumps"')
    meta = probe_video(out)
    assert (meta.num_frames, meta.width, meta.height) == (20, 128, HEADER_HEIGHT + LABEL_HEIGHT + 64)  # 2 s at 10 fps
    frames = decode_frames(out, np.array([2, 15]))  # (2, H, W, 3)
    top = HEADER_HEIGHT + LABEL_HEIGHT
    # the short clip (0.8 s) loops: at t = 1.5 s it shows frame floor(1.5 * 29.97) % 24 = 20, brightness 170;
    # at t = 0.2 s frame 5, brightness 50 (the 96x64 clip is letterboxed into 64x43, right half has no red band)
    np.testing.assert_allclose(frames[:, top + 32, 60, 1].astype(float), [50, 170], atol=8)
    # the long clip at 15 fps: t = 1.5 s is frame 22, brightness 186
    assert abs(int(frames[1, top + 32, 64 + 60, 1]) - 186) <= 8
    for strip in (frames[0, :HEADER_HEIGHT], frames[0, HEADER_HEIGHT:top, :64], frames[0, HEADER_HEIGHT:top, 64:]):
        assert (strip.min(axis=-1) < 100).sum() > 20  # dark ink on the white strip: the text is drawn


def test_preview_length_is_capped(clips, tmp_path):
    write_preview(tmp_path / "capped.mp4", [PreviewTile(clips[1], "a")], fps=10, tile_size=32, max_seconds=0.5)
    assert probe_video(tmp_path / "capped.mp4").num_frames == 5


def test_undecodable_clip_names_the_file_and_leaves_no_output(clips, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 4096)
    out = tmp_path / "preview.mp4"
    with pytest.raises(VideoError, match="bad.mp4"):
        write_preview(out, [PreviewTile(clips[0], "ok"), PreviewTile(str(bad), "bad")], fps=10, tile_size=32)
    assert list(tmp_path.iterdir()) == [bad]


def test_no_tiles_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no clips"):
        write_preview(tmp_path / "x.mp4", [], fps=10)
