"""What a config asks of the sample stream, as plain values: SampleBuilder's arguments for a split of the prepared
dataset (frame count and size and token count follow the model; statistics and sizes come from the manifest)."""

from __future__ import annotations

from lavimo.config import LavimoConfig
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.data.samples import StreamSettings
from lavimo.models.video_encoder import video_input_size


def stream_settings(config: LavimoConfig) -> StreamSettings:
    """The sample stream for this config: frame count and size, and token count, follow the model."""
    return StreamSettings(
        crop_frames=config.stream.crop_frames,
        num_video_frames=config.model.video.num_frames,
        frame_size=video_input_size(config.model.video),
        max_tokens=config.model.text.max_tokens,
        augment=config.stream.augment,
        flip_probability=config.stream.flip_probability,
        seed=config.train.seed,
    )


def builder_arguments(config: LavimoConfig, split: str) -> dict:
    """SampleBuilder's arguments for a split of the prepared dataset (statistics and sizes from its manifest)."""
    info = read_manifest(manifest_path(config.data.prepared, split))[1]
    return {
        "stats": (info.mean_path, info.std_path),
        "tokenizer": config.model.text.pretrained,
        "settings": stream_settings(config),
        "with_video": config.model.has_video,
        "embedding_dim": info.embedding_dim,
    }
