"""LAVIMO's model: motion, text and video encoders, feature fusion, motion decoder; imports neither Ray nor MLflow."""

from lavimo.models.config import (
    DecoderConfig,
    FusionConfig,
    ModelConfig,
    MotionEncoderConfig,
    TextEncoderConfig,
    VideoEncoderConfig,
    VisionTowerConfig,
)
from lavimo.models.fusion import FeatureFusion
from lavimo.models.lavimo_model import MAX_LOGIT_SCALE, LavimoModel, LavimoOutput
from lavimo.models.layers import Encoded
from lavimo.models.motion_decoder import MotionDecoder
from lavimo.models.motion_encoder import MotionEncoder
from lavimo.models.text_encoder import TextEncoder
from lavimo.models.video_encoder import IMAGE_MEAN, IMAGE_STD, VideoEncoder, build_image_tower, video_input_size

__all__ = [
    "DecoderConfig",
    "Encoded",
    "FeatureFusion",
    "FusionConfig",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "LavimoModel",
    "LavimoOutput",
    "MAX_LOGIT_SCALE",
    "ModelConfig",
    "MotionDecoder",
    "MotionEncoder",
    "MotionEncoderConfig",
    "TextEncoder",
    "TextEncoderConfig",
    "VideoEncoder",
    "VideoEncoderConfig",
    "VisionTowerConfig",
    "build_image_tower",
    "video_input_size",
]
