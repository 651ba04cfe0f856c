"""The config loads the shipped YAML, applies overrides, and names the bad key or file when it cannot."""

from pathlib import Path

import pytest

from lavimo.config import ConfigError, LavimoConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "ray_configs"


def test_shipped_default_loads_and_round_trips():
    config = load_config(CONFIGS / "cpu_demo.yaml")
    assert config.data.dataset == "synthetic"
    assert config.render.resolution == 128
    assert config.model.modalities == ("motion", "text", "video")
    assert LavimoConfig().to_dict().keys() == config.to_dict().keys()


def test_overrides_reach_nested_keys_and_parse_values():
    config = load_config(
        CONFIGS / "cpu_demo.yaml",
        [
            "data.synthetic.num_motions=12",
            "data.max_motion_frames=null",
            "prepare.render_cpus=0.5",
            "train.learning_rate=1e-3",
        ],
    )
    assert config.data.synthetic.num_motions == 12
    assert config.train.learning_rate == 1e-3  # YAML 1.1 reads "1e-3" as a string
    assert config.data.max_motion_frames is None
    assert config.prepare.render_cpus == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: {datset: kit}", "unknown key 'data.datset'"),
        ("data: {dataset: nope}", "data.dataset: expected one of"),
        ("render: {resolution: big}", "render.resolution: expected int"),
        ("train: {learning_rate: fast}", "train.learning_rate: expected float, got 'fast'"),
        ("render: {resolution: 255}", "render.resolution: expected an even number"),
        ("data: {splits: train}", "data.splits: expected a list"),
        ("data: [1, 2]", "data: expected a mapping"),
        ("prepare: {embed_cpus: 0}", "prepare.embed_cpus: must be > 0"),
        ("data: {dataset: kit", "not valid YAML"),
        ("train: {epsilon: 0.8}", "'train.epsilon' is now 'loss.epsilon'"),
        ("train: {lambda_recon: 0.1, epsilon: 0.8}", "'train.epsilon' is now 'loss.epsilon'; 'train.lambda_recon'"),
        ("loss: {epsilon: 1.5}", "loss.epsilon: must be in (0, 1]"),
        ("loss: {motion_video: -1}", "loss.motion_video: must be a finite number >= 0"),
        ("loss: {weight: 2}", "unknown key 'loss.weight'"),
        ("stream: {max_motion_frames: 300}", "stream.max_motion_frames: 300 frames are more than the motion encoder"),
        ("train: {checkpoint_metric: val/t2m/R4}", "train.checkpoint_metric: 'val/t2m/R4' is not a validation recall"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_unreadable_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_malformed_override_is_refused():
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(CONFIGS / "cpu_demo.yaml", ["data.root"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epsilon=0.7", "unknown key 'train.epsilon': it is now 'loss.epsilon'"),
        ("train.epoch=3", "unknown key 'train.epoch'"),
        ("loss.epsilon=2", "loss.epsilon: must be in"),
    ],
)
def test_an_override_of_a_key_the_config_lacks_or_a_bad_value_is_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIGS / "cpu_demo.yaml", [override])


def test_overrides_set_nested_keys_and_read_values_as_yaml():
    config = load_config(CONFIGS / "cpu_demo.yaml", ["loss.epsilon=0.85", "render.resolution=96"])
    assert config.loss.epsilon == 0.85 and config.render.resolution == 96


def test_a_variant_extends_its_base_key_by_key():
    base = load_config(CONFIGS / "kit.yaml")
    variant = load_config(CONFIGS / "kit_2modal.yaml")
    assert variant.model.modalities == ("motion", "text")
    assert variant.model.motion.feature_dim == base.model.motion.feature_dim == 251
    assert variant.model.motion.num_layers == 6  # inherited through kit.yaml from humanml3d.yaml
    assert variant.data.dataset == "kit" and variant.train.epochs == 400


def test_every_shipped_training_config_is_valid():
    training = [p for p in sorted(CONFIGS.glob("*.yaml")) if not p.name.startswith(("tune_", "cluster"))]
    assert {"cpu_demo.yaml", "humanml3d.yaml", "kit_2modal.yaml"} <= {p.name for p in training}
    for path in training:  # sweep and cluster-launcher configs have tests of their own
        load_config(path)


def test_an_extends_cycle_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="makes a cycle"):
        load_config(tmp_path / "a.yaml")


def test_model_errors_name_the_model_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {latent_dim: 30}")
    with pytest.raises(ConfigError, match="model.motion.num_heads"):
        load_config(path)


def test_checkpoint_metric_must_be_a_recall_the_model_reports(tmp_path):
    assert load_config(CONFIGS / "cpu_demo.yaml").train.checkpoint_metric == "val/v2m/R1"
    with pytest.raises(ConfigError, match=r"train.checkpoint_metric: 'val/v2m/R1' .* \(t2m, m2t\)"):
        load_config(CONFIGS / "cpu_demo.yaml", ["model.modalities=[motion, text]"])
    with pytest.raises(ConfigError, match="train.checkpoint_metric: 'val/t2m/MedR'"):
        load_config(CONFIGS / "cpu_demo.yaml", ["train.checkpoint_metric=val/t2m/MedR"])  # lower is better: not a score
