"""The config loads the shipped YAML, applies overrides, and names the bad key or file when it cannot."""

from pathlib import Path

import pytest

from lavimo.config import ConfigError, LavimoConfig, load_config, migrate_recorded

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
            "data.keep_shorter_than=null",
            "prepare.render_cpus=0.5",
            "train.learning_rate=1e-3",
        ],
    )
    assert config.data.synthetic.num_motions == 12
    assert config.train.learning_rate == 1e-3  # YAML 1.1 reads "1e-3" as a string
    assert config.data.keep_shorter_than is None
    assert config.prepare.render_cpus == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: {datset: kit}", "unknown key 'data.datset'"),
        ("data: {dataset: nope}", "data.dataset: input should be 'humanml3d', 'kit' or 'synthetic', got 'nope'"),
        ("render: {resolution: big}", "render.resolution: input should be a valid integer"),
        ("train: {epochs: true}", "train.epochs: input should be a valid integer"),
        ("train: {learning_rate: fast}", "train.learning_rate: input should be a valid number"),
        ("render: {resolution: 255}", "render.resolution: expected an even number"),
        ("data: {splits: train}", "data.splits: input should be a valid tuple"),
        ("data: [1, 2]", "data: expected a mapping"),
        ("prepare: {embed_cpus: 0}", "prepare.embed_cpus: input should be greater than 0"),
        ("data: {dataset: kit", "not valid YAML"),
        ("train: {epsilon: 0.8}", "'train.epsilon' is now 'loss.epsilon'"),
        ("data: {max_motion_frames: 150}", "'data.max_motion_frames' is now 'data.keep_shorter_than'"),
        ("stream: {max_motion_frames: 150}", "'stream.max_motion_frames' is now 'stream.crop_frames'"),
        ("model: {motion: {max_frames: 150}}", "'model.motion.max_frames' is now 'model.motion.positional_frames'"),
        ("loss: {epsilon: 1.5}", "loss.epsilon: input should be less than or equal to 1"),
        ("loss: {motion_video: -1}", "loss.motion_video: input should be greater than or equal to 0"),
        ("loss: {text_video: .inf}", "loss.text_video: input should be a finite number"),
        ("data: {keep_shorter_than: 30, min_motion_frames: 40}", "data.keep_shorter_than: must be larger than"),
        ("loss: {weight: 2}", "unknown key 'loss.weight'"),
        ("stream: {crop_frames: 300}", "stream.crop_frames: 300 frames are more than the motion encoder"),
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
        ("loss.epsilon=2", "loss.epsilon: input should be less than or equal to 1"),
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


def test_every_problem_is_reported_at_once_each_naming_its_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "train: {epochs: 0, batch_sise: 8, epsilon: 0.7}\nrender: {camera: {fov_deg: [5, 40]}}\nloss: {epsilon: 0}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["train.learning_rate=1e-3"])
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}: 5 problems:", lines
    for expected in (
        "render.camera.fov_deg: a range is [low, high] with 10.0 <= low",
        "train.epochs: input should be greater than or equal to 1, got 0",
        "unknown key 'train.batch_sise' (known keys: num_workers, ",
        "'train.epsilon' is now 'loss.epsilon': move it there",
        "loss.epsilon: input should be greater than 0, got 0",
    ):
        assert sum(expected in line for line in lines[1:]) == 1, (expected, lines)


def test_a_changed_copy_is_validated_like_a_loaded_config():
    config = load_config(CONFIGS / "cpu_demo.yaml")
    assert config.replace(train=config.train.replace(epochs=3)).train.epochs == 3
    with pytest.raises(ConfigError, match="epochs: input should be greater than or equal to 1"):
        config.train.replace(epochs=0)
    with pytest.raises(ConfigError, match="stream.crop_frames: 300 frames are more than"):
        config.replace(stream=config.stream.replace(crop_frames=300))
    with pytest.raises(ValueError, match="frozen"):
        config.train.epochs = 5  # a config is never changed in place, so it stays validated


def test_overrides_report_every_unknown_key_at_once():
    with pytest.raises(ConfigError, match=r"unknown key 'train.epoch'; unknown key 'stream.max_motion_frames': it is "):
        load_config(CONFIGS / "cpu_demo.yaml", ["train.epoch=3", "stream.max_motion_frames=100"])


def test_a_config_recorded_with_earlier_keys_is_migrated_to_the_new_ones():
    config = load_config(CONFIGS / "cpu_demo.yaml")
    recorded = config.to_dict()  # as an earlier version wrote a checkpoint's config.json
    recorded["train"].update(epsilon=recorded["loss"].pop("epsilon"), lambda_recon=recorded["loss"].pop("lambda_recon"))
    recorded["data"]["max_motion_frames"] = recorded["data"].pop("keep_shorter_than")
    recorded["stream"]["max_motion_frames"] = recorded["stream"].pop("crop_frames")
    recorded["model"]["motion"]["max_frames"] = recorded["model"]["motion"].pop("positional_frames")
    migrated = migrate_recorded(recorded)
    assert migrated == config.to_dict()
    assert "max_motion_frames" in recorded["data"]  # the recorded mapping itself is left as it was
    assert migrate_recorded({"min_motion_frames": 40, "max_motion_frames": 200, "look": "ab"}, "data") == {
        "min_motion_frames": 40,
        "keep_shorter_than": 200,
        "look": "ab",
    }  # a manifest's data settings
