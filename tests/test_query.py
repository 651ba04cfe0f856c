"""Retrieval queries: a sentence and any video (short, long, odd rates, wide, portrait, a window, a crop) through a
checkpoint's towers with the evaluation preprocessing; the job's --start, --end and --crop."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from lavimo import checkpoint
from lavimo.config import LavimoConfig, StreamConfig
from lavimo.data.video import VideoError
from lavimo.eval.query import QueryEncoder, QueryError
from lavimo.models import LavimoModel
from lavimo.tokenizer import load_tokenizer, tokenize
from tests.test_models import FRAMES, SIDE, C, tiny_config
from tests.test_video import BLUE, GREEN, RED, brightness_frames, is_colour, write_clip, write_filmed_clip


@pytest.fixture(scope="module")
def encoder() -> QueryEncoder:
    """A tiny random model over the real bundled all-MiniLM-L6-v2."""
    torch.manual_seed(0)
    return QueryEncoder(LavimoModel(tiny_config("")))


def test_text_query_is_the_unit_text_embedding_of_the_sentence(encoder):
    vector = encoder.text("  a person jumps twice ")
    assert vector.shape == (C,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    model = encoder.model
    ids, mask = tokenize(
        load_tokenizer(model.config.text.pretrained),
        ["a person jumps twice", "someone walks in a circle"],
        model.config.text.max_tokens,
    )
    with torch.no_grad():
        batch = model.encode_text(ids, mask)  # (2, C), padded together with a longer caption
    np.testing.assert_allclose(vector, batch[0].numpy(), atol=1e-5)
    assert not np.allclose(vector, encoder.text("someone walks in a circle"), atol=1e-3)


@pytest.mark.parametrize("sentence", ["", "   \n"])
def test_empty_text_query_is_refused(encoder, sentence):
    with pytest.raises(QueryError, match="empty"):
        encoder.text(sentence)


def test_video_query_samples_frames_uniformly_over_the_whole_file(encoder, tmp_path):
    clip = write_filmed_clip(tmp_path / "phone.mp4", frames=24, width=96, height=64, fps=Fraction(30000, 1001))
    frames = encoder.video_frames(clip)  # (FRAMES, SIDE, SIDE, 3)
    assert frames.shape == (FRAMES, SIDE, SIDE, 3) and frames.dtype == np.uint8
    # 4 segments of 24 frames: centres 3, 9, 15, 21; frame i has brightness 8 i + 10 right of the red band
    expected = 8 * np.array([3, 9, 15, 21]) + 10
    np.testing.assert_allclose(frames[:, SIDE // 2, -2, 1].astype(float), expected, atol=6)
    vector = encoder.video(clip)
    assert vector.shape == (C,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_undecodable_video_query_names_the_file(encoder, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    with pytest.raises(VideoError, match="broken.mp4"):
        encoder.video(bad)
    with pytest.raises(VideoError, match="missing.mp4"):
        encoder.video(tmp_path / "missing.mp4")


def test_two_modal_checkpoint_refuses_video_queries(tmp_path):
    two_modal = QueryEncoder(LavimoModel(tiny_config("", modalities=("motion", "text"))))
    clip = write_filmed_clip(tmp_path / "phone.mp4")
    with pytest.raises(QueryError, match="2-modal"):
        two_modal.video(clip)


def _brightness(frames: np.ndarray) -> np.ndarray:
    """(F, S, S, 3) frames of brightness_frames -> (F,) the green level right of the red band."""
    return frames[:, SIDE // 2, -2, 1].astype(float)


@pytest.mark.parametrize(("count", "indices"), [(1, [0, 0, 0, 0]), (3, [0, 1, 1, 2])])
def test_clips_shorter_than_l_v_repeat_frames(encoder, tmp_path, count, indices):
    clip = write_filmed_clip(tmp_path / "short.mp4", frames=count)
    frames = encoder.video_frames(clip)
    assert frames.shape == (FRAMES, SIDE, SIDE, 3)
    np.testing.assert_allclose(_brightness(frames), 8 * np.array(indices) + 10, atol=6)
    assert np.linalg.norm(encoder.video(clip)) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("fps", "codec"), [(Fraction(15, 2), "libx264"), (Fraction(60), "mpeg4")])
def test_odd_frame_rates_sample_the_whole_clip(encoder, tmp_path, fps, codec):
    clip = write_clip(tmp_path / "rate.mp4", brightness_frames(24), fps, codec=codec)
    np.testing.assert_allclose(_brightness(encoder.video_frames(clip)), 8 * np.array([3, 9, 15, 21]) + 10, atol=6)


def _framed(width: int, height: int) -> np.ndarray:
    """(2, H, W, 3): a green centre square with a red top-left corner, blue outside the square."""
    images = np.zeros((2, height, width, 3), np.uint8)
    images[:] = BLUE
    side = min(width, height)
    x, y = (width - side) // 2, (height - side) // 2
    images[:, y : y + side, x : x + side] = GREEN
    images[:, y : y + side // 4, x : x + side // 4] = RED
    return images


@pytest.mark.parametrize(("width", "height", "rotate"), [(160, 96, 0), (96, 160, 90)])
def test_wide_and_portrait_clips_keep_their_centre_square(encoder, tmp_path, width, height, rotate):
    """A 16:9-ish clip and a portrait phone clip (stored landscape with rotation metadata) -> the middle square,
    upright: the red corner top-left, no blue from the sides (wide) or from top and bottom (portrait)."""
    clip = write_clip(tmp_path / "framed.mp4", _framed(width, height), rotate=rotate)
    frames = encoder.video_frames(clip)  # (FRAMES, SIDE, SIDE, 3)
    quarter = SIDE // 4
    assert is_colour(frames[:, 1 : quarter - 1, 1 : quarter - 1], RED)
    assert is_colour(frames[:, quarter + 1 :, quarter + 1 :], GREEN)
    assert is_colour(frames[:, quarter + 1 :, [0, -1]], GREEN) and is_colour(frames[:, [0, -1], quarter + 1 :], GREEN)


def test_a_window_of_seconds_is_sampled_uniformly(encoder, tmp_path):
    clip = write_clip(tmp_path / "ten.mp4", brightness_frames(24), Fraction(10))  # frame i from i / 10 s
    frames = encoder.video_frames(clip, start=0.5, end=1.3)  # frames 5 ... 12
    np.testing.assert_allclose(_brightness(frames), 8 * np.array([6, 8, 10, 12]) + 10, atol=6)
    later = encoder.video_frames(clip, start=2.0)  # frames 20 ... 23
    np.testing.assert_allclose(_brightness(later), 8 * np.array([20, 21, 22, 23]) + 10, atol=6)


def test_a_crop_is_a_box_of_the_displayed_frame(encoder, tmp_path, caplog):
    """On a portrait phone clip the box is in upright pixels; a tall box gives its centre square, with a warning."""
    clip = write_clip(tmp_path / "portrait.mp4", _framed(96, 160), rotate=90)  # green square at y 32 ... 128
    assert is_colour(encoder.video_frames(clip, crop=(0, 0, 96, 32)), BLUE)  # the band above the square
    assert is_colour(encoder.video_frames(clip, crop=(24, 64, 32, 32)), GREEN)
    tall = encoder.video_frames(clip, crop=(24, 0, 32, 64))  # centre square at y 16 ... 48: blue above, green below
    assert is_colour(tall[:, : SIDE // 2 - 1], BLUE) and is_colour(tall[:, SIDE // 2 + 1 :], GREEN)
    assert "not square" in caplog.text


@pytest.mark.parametrize("crop", [(80, 0, 32, 32), (0, 140, 40, 40), (-1, 0, 10, 10), (0, 0, 0, 10)])
def test_a_crop_outside_the_frame_is_refused_with_the_option_named(encoder, tmp_path, crop):
    clip = write_clip(tmp_path / "portrait.mp4", _framed(96, 160), rotate=90)
    with pytest.raises(QueryError, match=rf"portrait.mp4: --crop {','.join(map(str, crop))} .* 96x160 frame"):
        encoder.video_frames(clip, crop=crop)


def _retrieve_main():
    """jobs/retrieve.py's main, loaded from its file as a user runs it."""
    path = Path(__file__).resolve().parents[1] / "jobs" / "retrieve.py"
    spec = importlib.util.spec_from_file_location("retrieve_job", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_the_job_names_a_malformed_crop(capsys):
    with pytest.raises(SystemExit):
        _retrieve_main()(["--checkpoint", "unused", "--video", "clip.mp4", "--crop", "10,10,100"])
    assert "argument --crop: expected X,Y,W,H" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--text", "a person waves", "--crop", "0,0,8,8"], "--crop go with a --video"),
        (["--video", "clip.mp4", "--start", "2", "--end", "1"], r"--end \(1.0 s\) must come after --start"),
        (["--video", "clip.mp4", "--start", "-1"], "--start must be >= 0"),
    ],
)
def test_the_job_refuses_clip_options_that_cannot_apply(arguments, message):
    with pytest.raises(QueryError, match=message):
        _retrieve_main()(["--checkpoint", "unused", *arguments])


def test_the_job_names_a_crop_outside_the_frame_before_touching_the_index(tmp_path):
    config = LavimoConfig(model=tiny_config(""), stream=StreamConfig(crop_frames=64))
    folder = checkpoint.save_checkpoint(tmp_path / "ckpt", LavimoModel(config.model), {}, config, {})
    clip = write_clip(tmp_path / "wide.mp4", _framed(160, 96))
    with pytest.raises(QueryError, match="--crop 100,0,96,96 .* 160x96 frame"):
        _retrieve_main()(["--checkpoint", str(folder), "--video", str(clip), "--crop", "100,0,96,96"])


def test_a_long_clip_is_sampled_over_its_whole_length(encoder, tmp_path):
    """A minute at 30 fps with one keyframe every 250 frames: l_v frames at the segment centres."""
    count = 1800
    levels = (np.arange(count) * 200 // count + 20).astype(np.uint8)  # (N,) brightness rising over the clip
    images = np.ascontiguousarray(np.broadcast_to(levels[:, None, None, None], (count, 64, 64, 3)))
    clip = write_clip(tmp_path / "long.mp4", images, Fraction(30), options={"preset": "ultrafast", "g": "250"})
    frames = encoder.video_frames(clip)
    np.testing.assert_allclose(frames[:, SIDE // 2, SIDE // 2, 1], levels[[225, 675, 1125, 1575]], atol=4)
