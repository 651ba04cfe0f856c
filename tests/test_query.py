"""Retrieval queries: a sentence and a filmed video through a checkpoint's towers, with the evaluation preprocessing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from lavimo.data.video import VideoError
from lavimo.eval.query import QueryEncoder, QueryError
from lavimo.models import LavimoModel, load_tokenizer, tokenize
from tests.test_models import FRAMES, SIDE, C, tiny_config
from tests.test_video import write_filmed_clip


@pytest.fixture(scope="module")
def encoder() -> QueryEncoder:
    """A tiny random model over the real bundled all-MiniLM-L6-v2."""
    torch.manual_seed(0)
    return QueryEncoder(LavimoModel(tiny_config("")))


def test_text_query_is_the_unit_text_embedding_of_the_sentence(encoder):
    vector = encoder.text("  a person jumps twice ")
    assert vector.shape == (C,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    model = encoder.model
    ids, mask = tokenize(load_tokenizer(model.config.text), ["a person jumps twice", "someone walks in a circle"],
                         model.config.text.max_tokens)
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
