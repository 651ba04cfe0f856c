"""Every pretrained source a config names is checked by the driver at start, offline: local folders and files must
read as their kind of model, hub ids must be cached or resolve; otherwise a clear error names the key and value."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lavimo import pretrained
from lavimo.config import load_config
from lavimo.pretrained import OPEN_CLIP_WEIGHTS, TRANSFORMERS_MODEL, PretrainedError, Source
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]


def _text(value: str) -> list[Source]:
    return [Source("model.text.pretrained", value, TRANSFORMERS_MODEL)]


@pytest.fixture
def unreachable_hub(monkeypatch):
    """The hub allowed (HF_HUB_OFFLINE off) but at an address that refuses connections, as on a machine without
    internet access."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")


def test_the_bundled_model_and_its_folder_pass():
    pretrained.check(_text("") + _text(pretrained.bundled_path()))
    pretrained.check([Source("model.video.pretrained", "", OPEN_CLIP_WEIGHTS, "ViT-B-32")])  # from scratch


def test_a_local_text_model_must_be_a_folder_with_a_model_tokenizer_and_weights(tmp_path):
    with pytest.raises(PretrainedError, match=r"model.text.pretrained: '/nonexistent/distilbert' is not a folder"):
        pretrained.check(_text("/nonexistent/distilbert"))
    with pytest.raises(
        PretrainedError,
        match=rf"model.text.pretrained: '{tmp_path}' is not readable as a "
        "transformers model",
    ):
        pretrained.check(_text(str(tmp_path)))
    from transformers import AutoConfig, AutoTokenizer

    bundled = pretrained.bundled_path()
    AutoConfig.from_pretrained(bundled).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(bundled).save_pretrained(tmp_path)
    with pytest.raises(PretrainedError, match="has no weights file"):
        pretrained.check(_text(str(tmp_path)))


def test_a_hub_id_outside_the_cache_fails_offline_with_what_to_do():
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # as the test session runs
    with pytest.raises(
        PretrainedError,
        match=r"prepare.sentence_model: 'sentence-transformers/all-mpnet-base-v2' is "
        r"not a local folder, not in the Hugging Face cache, and HF_HUB_OFFLINE "
        r"is set; download it .*--local-dir DIR",
    ):
        pretrained.check(
            [Source("prepare.sentence_model", "sentence-transformers/all-mpnet-base-v2", TRANSFORMERS_MODEL)]
        )


def test_a_hub_id_with_an_unreachable_hub_fails_at_once(unreachable_hub):
    started = time.monotonic()
    with pytest.raises(
        PretrainedError,
        match=r"prepare.sentence_model: 'sentence-transformers/all-mpnet-base-v2' is "
        r"not a local folder and the Hugging Face hub cannot be reached",
    ):
        pretrained.check(
            [Source("prepare.sentence_model", "sentence-transformers/all-mpnet-base-v2", TRANSFORMERS_MODEL)]
        )
    assert time.monotonic() - started < 30  # no retrying for minutes


def test_clip_weights_must_be_a_readable_checkpoint_of_the_architecture(tmp_path):
    import open_clip
    import torch

    def clip(path):
        return [Source("model.video.pretrained", str(path), OPEN_CLIP_WEIGHTS, "ViT-B-32")]

    with pytest.raises(PretrainedError, match="model.video.pretrained: '/models/nope.bin' is not a file"):
        pretrained.check(clip("/models/nope.bin"))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not a checkpoint" * 100)
    with pytest.raises(PretrainedError, match="is not readable as ViT-B-32 open_clip weights"):
        pretrained.check(clip(garbage))
    weights = tmp_path / "vit-b-32.pt"
    torch.save(open_clip.create_model("ViT-B-32").state_dict(), weights)  # random weights, the right shapes
    pretrained.check(clip(weights))


def test_a_config_names_its_pretrained_sources():
    paper = load_config(REPO / "ray_configs" / "humanml3d.yaml")
    assert [(s.key, s.value) for s in paper.pretrained_sources()] == [
        ("model.text.pretrained", "distilbert-base-uncased"),
        ("prepare.sentence_model", "sentence-transformers/all-mpnet-base-v2"),
        ("model.video.pretrained", "/models/open_clip/ViT-B-32-openai.bin"),
    ]
    demo = load_config(REPO / "ray_configs" / "cpu_demo.yaml")  # bundled text models, a small tower from scratch
    assert [s.value for s in demo.pretrained_sources()] == ["", ""]


@pytest.mark.parametrize(
    "sets, key, value",
    [
        ([], "model.text.pretrained", "distilbert-base-uncased"),
        (['model.text.pretrained=""'], "prepare.sentence_model", "sentence-transformers/all-mpnet-base-v2"),
        (
            ['model.text.pretrained=""', 'prepare.sentence_model=""'],
            "model.video.pretrained",
            "/models/open_clip/ViT-B-32-openai.bin",
        ),
    ],
)
def test_the_paper_config_without_hub_access_stops_before_anything_starts(tmp_path, sets, key, value):
    """As a new user runs it: `humanml3d` on a machine that cannot reach the hub (and has no CLIP weights) stops at
    once with the key, the value and what to do, before Ray, preparation or any training worker starts."""
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        HF_HOME=str(tmp_path / "hf"),
        HF_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        RAY_ADDRESS="",
    )
    overrides = [arg for item in sets for arg in ("--set", item)]
    done = subprocess.run(
        [sys.executable, "jobs/train.py", "--config", "ray_configs/humanml3d.yaml", *overrides],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert f"PretrainedError: {key}: '{value}'" in done.stderr, done.stderr[-2000:]
    assert "Started a local Ray instance" not in done.stderr and "lavimo.data" not in done.stderr  # nothing ran
