"""The model package: tower and model shapes, padding invariance, frozen/trainable parts, config round trip, imports."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest
import torch

from lavimo.config import LavimoConfig
from lavimo.models import (
    IMAGE_MEAN,
    IMAGE_STD,
    DecoderConfig,
    FusionConfig,
    LavimoModel,
    ModelConfig,
    MotionEncoder,
    MotionEncoderConfig,
    TextEncoder,
    TextEncoderConfig,
    VideoEncoder,
    VideoEncoderConfig,
    VisionTowerConfig,
    video_input_size,
)
from lavimo.schema import ConfigError, build
from lavimo.tokenizer import load_tokenizer, tokenize

C, D, FRAMES, SIDE = 32, 12, 4, 32  # tiny latent size, pose features, video frames, frame side
CAPTIONS = ["a person walks forward and then turns around", "jump"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A 1-layer, 16-wide BERT saved with weights and the MiniLM tokenizer: a fast stand-in pretrained folder."""
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(0)
    BertModel(
        BertConfig(
            hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_position_embeddings=64
        )
    ).save_pretrained(folder)
    load_tokenizer(TextEncoderConfig().pretrained).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def minilm_tower() -> TextEncoder:
    """The real bundled all-MiniLM-L6-v2 under a tiny frozen temporal transformer, loaded once per module."""
    torch.manual_seed(0)
    return TextEncoder(TextEncoderConfig(finetune=False, max_tokens=32, num_layers=1, num_heads=2, ff_dim=64), C)


def tiny_config(text_folder: str, modalities=("motion", "text", "video"), **overrides) -> ModelConfig:
    small = dict(num_layers=1, num_heads=2, ff_dim=64)
    return ModelConfig(
        latent_dim=C,
        modalities=modalities,
        motion=MotionEncoderConfig(feature_dim=D, positional_frames=64, **small),
        text=TextEncoderConfig(pretrained=text_folder, max_tokens=16, **small),
        video=VideoEncoderConfig(
            open_clip_model="",
            num_frames=FRAMES,
            **small,
            tower=VisionTowerConfig(image_size=SIDE, patch_size=8, width=32, layers=1, heads=2, output_dim=16),
        ),
        fusion=FusionConfig(num_heads=2),
        decoder=DecoderConfig(**small),
        **overrides,
    )


def motion_batch(lengths=(10, 6), frames=None, dim=D):
    """Random motions (B, T, D) with garbage in the padding, and their (B, T) bool mask."""
    frames = frames or max(lengths)
    mask = torch.arange(frames)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    return torch.randn(len(lengths), frames, dim), mask


def batch_inputs(model: LavimoModel):
    torch.manual_seed(1)
    motion, mask = motion_batch()
    ids, attention = tokenize(load_tokenizer(model.config.text.pretrained), CAPTIONS, model.config.text.max_tokens)
    frames = torch.randn(2, FRAMES, 3, SIDE, SIDE)
    return motion, mask, ids, attention, frames


def test_motion_tower_shapes_and_padding_invariance():
    torch.manual_seed(0)
    encoder = MotionEncoder(MotionEncoderConfig(feature_dim=D, num_layers=2, num_heads=2, ff_dim=64), C).eval()
    motion, mask = motion_batch()
    longer = torch.cat([motion, 100 * torch.randn(2, 7, D)], dim=1)  # 7 more padding frames of garbage
    longer_mask = torch.cat([mask, torch.zeros(2, 7, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        short, long = encoder(motion, mask), encoder(longer, longer_mask)
    assert short.embedding.shape == (2, C) and short.tokens.shape == (2, 10, C)
    torch.testing.assert_close(short.embedding, long.embedding, atol=1e-5, rtol=1e-5)
    assert short.tokens[1, 6:].abs().max() == 0  # padded tokens are zero
    with pytest.raises(ValueError, match="no valid position"):
        encoder(motion, torch.zeros_like(mask))


def test_video_tower_shapes_and_frame_size_check():
    torch.manual_seed(0)
    config = tiny_config("").video
    encoder = VideoEncoder(config, C).eval()
    with torch.no_grad():
        encoded = encoder(torch.randn(2, FRAMES, 3, SIDE, SIDE))
    assert encoded.embedding.shape == (2, C) and encoded.tokens.shape == (2, FRAMES, C)
    assert video_input_size(config) == SIDE and video_input_size(VideoEncoderConfig()) == 224
    with pytest.raises(ValueError, match=r"\(B, F, 3, 32, 32\)"):
        encoder(torch.randn(2, FRAMES, 3, 64, 64))


def test_image_constants_match_open_clip_and_named_tower_errors_are_clear():
    import open_clip

    assert IMAGE_MEAN == open_clip.OPENAI_DATASET_MEAN and IMAGE_STD == open_clip.OPENAI_DATASET_STD
    with pytest.raises(FileNotFoundError, match="model.video.pretrained"):
        VideoEncoder(VideoEncoderConfig(pretrained="/nonexistent/clip.pt"), C)
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        VideoEncoder(VideoEncoderConfig(open_clip_model="ViT-Nope"), C)


def test_real_minilm_text_tower_shapes_and_padding_invariance(minilm_tower):
    tokenizer = load_tokenizer(minilm_tower.config.pretrained)
    ids, attention = tokenize(tokenizer, CAPTIONS, 32)
    alone_ids, alone_attention = tokenize(tokenizer, CAPTIONS[1:], 32)  # "jump" without the long caption's padding
    assert attention.dtype == torch.bool and ids.shape == attention.shape and ids.shape[1] > alone_ids.shape[1]
    minilm_tower.eval()
    with torch.no_grad():
        batch, alone = minilm_tower(ids, attention), minilm_tower(alone_ids, alone_attention)
    assert batch.embedding.shape == (2, C) and batch.tokens.shape == (2, ids.shape[1], C)
    torch.testing.assert_close(batch.embedding[1:], alone.embedding, atol=1e-5, rtol=1e-5)
    assert tokenize(tokenizer, ["word " * 100], 32)[0].shape == (1, 32)


def test_frozen_text_model_gets_no_grad_and_stays_in_eval(minilm_tower):
    minilm_tower.train()
    assert not minilm_tower.pretrained.training and minilm_tower.transformer.training
    ids, attention = tokenize(load_tokenizer(minilm_tower.config.pretrained), CAPTIONS, 32)
    minilm_tower.zero_grad()
    minilm_tower(ids, attention).embedding.square().sum().backward()
    assert all(not p.requires_grad and p.grad is None for p in minilm_tower.pretrained.parameters())
    assert all(p.grad is not None for p in minilm_tower.transformer.parameters())


def test_frozen_states_are_cached_per_caption_and_equal_fresh_ones(minilm_tower):
    assert not minilm_tower.config.finetune
    tokenizer = load_tokenizer(minilm_tower.config.pretrained)
    minilm_tower._frozen_states.clear()
    short_ids, short_attention = tokenize(tokenizer, CAPTIONS[1:], 32)  # cached with little padding
    minilm_tower._frozen_hidden(short_ids, short_attention)
    ids, attention = tokenize(tokenizer, CAPTIONS, 32)  # one new caption, one from the cache, more padding
    cached = minilm_tower._frozen_hidden(ids, attention)
    with torch.no_grad():
        fresh = minilm_tower.pretrained(input_ids=ids, attention_mask=attention.long()).last_hidden_state
    assert len(minilm_tower._frozen_states) == 2
    torch.testing.assert_close(cached[attention], fresh[attention], atol=1e-5, rtol=1e-5)
    assert (cached[~attention] == 0).all()


@pytest.mark.parametrize("modalities", [("motion", "text", "video"), ("motion", "text")])
def test_full_model_shapes(tiny_bert, modalities):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert, modalities)).eval()
    motion, mask, ids, attention, frames = batch_inputs(model)
    with torch.no_grad():
        out = model(motion, mask, ids, attention, frames if "video" in modalities else None)
    for emb in (out.motion_emb, out.text_emb) + ((out.video_emb,) if "video" in modalities else ()):
        assert emb.shape == (2, C)
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))
    assert out.reconstruction.shape == (2, 10, D) and out.reconstruction[1, 6:].abs().max() == 0
    assert out.logit_scale.shape == () and out.logit_scale.item() == pytest.approx(1 / 0.07)
    if "video" not in modalities:
        assert out.video_emb is None and model.video_encoder is None
        assert not [n for n, _ in model.named_parameters() if "video" in n]
        with pytest.raises(ValueError, match="2-modal"):
            model(motion, mask, ids, attention, frames)


def test_encoders_match_forward_and_reconstruction_ignores_padding(tiny_bert):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert)).eval()
    motion, mask, ids, attention, frames = batch_inputs(model)
    padded = torch.cat([motion, torch.randn(2, 5, D)], dim=1)  # (B, T+5, D)
    padded_mask = torch.cat([mask, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        out = model(motion, mask, ids, attention, frames)
        longer = model(padded, padded_mask, ids, attention, frames)
        torch.testing.assert_close(model.encode_motion(motion, mask), out.motion_emb)
        torch.testing.assert_close(model.encode_text(ids, attention), out.text_emb)
        torch.testing.assert_close(model.encode_video(frames), out.video_emb)
    torch.testing.assert_close(longer.reconstruction[:, :10], out.reconstruction, atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_trainable_parameter(tiny_bert):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert)).train()
    motion, mask, ids, attention, frames = batch_inputs(model)
    out = model(motion, mask, ids, attention, frames)
    similarity = out.logit_scale * (out.motion_emb @ out.text_emb.T + out.motion_emb @ out.video_emb.T)  # (B, B)
    loss = torch.nn.functional.cross_entropy(similarity, torch.arange(2)) + out.reconstruction.square().mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing


def _forward_with_motion_embedding(model: LavimoModel, inputs, replacement=None):
    """The model's output with the motion tower's e_m replaced by `replacement` (B, C) when given."""

    def swap(_module, _args, encoded):
        return dataclasses.replace(encoded, embedding=replacement) if replacement is not None else encoded

    handle = model.motion_encoder.register_forward_hook(swap)
    try:
        return model(*inputs)
    finally:
        handle.remove()


@pytest.mark.parametrize("modalities", [("motion", "text", "video"), ("motion", "text")])
def test_fusion_is_queried_by_the_motion_embedding_and_sums_one_vector_per_motion(tiny_bert, modalities):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert, modalities)).eval()
    motion, mask, ids, attention, frames = batch_inputs(model)
    with torch.no_grad():
        sources = {"motion": model.motion_encoder(motion, mask), "text": model.text_encoder(ids, attention)}
        if "video" in modalities:
            sources["video"] = model.video_encoder(frames)
        fused = model.fusion(sources["motion"].embedding, sources)
        terms = [model.fusion(sources["motion"].embedding, {name: source}) for name, source in sources.items()]
    assert fused.shape == (2, C) and len(model.fusion.attention) == len(modalities)
    torch.testing.assert_close(fused, sum(terms))  # Eq. 7: the sum of one attention term per modality
    text = sources["text"]
    padded = dataclasses.replace(
        text,
        tokens=torch.cat([text.tokens, 50 * torch.randn(2, 3, C)], 1),
        mask=torch.cat([text.mask, torch.zeros(2, 3, dtype=torch.bool)], 1),
    )
    with torch.no_grad():
        torch.testing.assert_close(model.fusion(sources["motion"].embedding, {"text": padded}), terms[1])


def test_reconstruction_depends_on_the_motion_embedding_and_its_gradient_reaches_the_cls_token(tiny_bert):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert)).eval()  # no dropout: two forwards differ only through e_m
    inputs = batch_inputs(model)
    out = model(*inputs)
    out.reconstruction.square().mean().backward()  # the reconstruction term alone
    cls_grad = model.motion_encoder.transformer.cls.grad
    assert cls_grad is not None and cls_grad.abs().sum() > 0
    with torch.no_grad():
        same = _forward_with_motion_embedding(model, inputs)
        other = _forward_with_motion_embedding(model, inputs, torch.randn(2, C))
    torch.testing.assert_close(same.reconstruction, out.reconstruction.detach())
    assert (other.reconstruction - same.reconstruction).abs().max() > 1e-3


def test_nothing_but_the_fused_embedding_and_the_duration_reaches_the_decoder(tiny_bert):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert)).eval()
    seen = []
    model.decoder.register_forward_pre_hook(lambda _module, args: seen.append(args))
    motion, mask, ids, attention, frames = batch_inputs(model)
    with torch.no_grad():
        out = model(motion, mask, ids, attention, frames)
    ((fused, decoder_mask),) = seen
    assert fused.shape == (2, C) and decoder_mask.dtype == torch.bool
    torch.testing.assert_close(decoder_mask, mask)  # the durations l_m = (10, 6), as a padding mask
    with torch.no_grad():  # the same ẽ_m and l_m give the same poses, whatever the motion, caption and video were
        torch.testing.assert_close(model.decoder(fused, mask), out.reconstruction)
        twin = model.decoder(fused[:1].expand(2, -1), torch.ones(2, 10, dtype=torch.bool))
    torch.testing.assert_close(twin[0], twin[1])


def test_temperature_is_a_clamped_parameter_or_a_fixed_buffer(tiny_bert):
    model = LavimoModel(tiny_config(tiny_bert, ("motion", "text")))
    assert isinstance(model.logit_scale, torch.nn.Parameter)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == pytest.approx(100.0)
    fixed = LavimoModel(tiny_config(tiny_bert, ("motion", "text"), learnable_temperature=False))
    assert "logit_scale" in dict(fixed.named_buffers()) and "logit_scale" not in dict(fixed.named_parameters())


def test_checkpoint_rebuilds_from_config_dict_and_state_dict(tiny_bert):
    torch.manual_seed(0)
    model = LavimoModel(tiny_config(tiny_bert)).eval()
    stored = json.loads(json.dumps(model.config.to_dict()))
    rebuilt = LavimoModel(build(ModelConfig, stored), load_pretrained=False).eval()
    rebuilt.load_state_dict(model.state_dict())
    motion, mask, ids, attention, frames = batch_inputs(model)
    with torch.no_grad():
        a, b = model(motion, mask, ids, attention, frames), rebuilt(motion, mask, ids, attention, frames)
    torch.testing.assert_close(a.video_emb, b.video_emb)
    torch.testing.assert_close(a.reconstruction, b.reconstruction)


def test_config_round_trips_and_validation_names_the_field():
    for config in (ModelConfig(), tiny_config("/some/folder", ("motion", "text"))):
        assert build(ModelConfig, json.loads(json.dumps(config.to_dict()))) == config
    bad = [
        ({"modalities": ["motion", "video"]}, "model.modalities: expected ('motion', 'text')"),
        ({"latent_dim": 30}, "model.motion.num_heads: must divide latent_dim 30"),
        ({"temperature_init": 0.0}, "model.temperature_init: must be in"),
        ({"decoder": {"dropout": 1.0}}, "model.decoder.dropout: input should be less than 1"),
        ({"video": {"open_clip_model": "", "tower": {"patch_size": 30}}}, "model.video.tower.patch_size: must divide"),
        ({"video": {"open_clip_model": "", "pretrained": "clip.pt"}}, "model.video.pretrained: a checkpoint needs"),
        ({"text": {"finetuned": False}}, "unknown key 'model.text.finetuned'"),
        ({"latent_dim": "512"}, "model.latent_dim: input should be a valid integer"),
    ]
    for raw, message in bad:
        with pytest.raises(ConfigError, match=re.escape(message)):
            build(LavimoConfig, {"model": raw})
    with pytest.raises(ValueError, match="latent_dim"):
        ModelConfig(latent_dim=0)  # built directly, a config is validated too


def test_models_import_without_ray_or_mlflow():
    code = (
        "import sys, lavimo.models; heavy = [m for m in ('ray', 'mlflow', 'transformers', 'open_clip') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
