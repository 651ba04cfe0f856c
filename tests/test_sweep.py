"""The sweep spec (search space, its errors, trial configs) and the sweep report, without a Ray cluster."""

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from lavimo.config import ConfigError, load_config, with_values
from lavimo.train import sweep_report
from lavimo.train.sweep import _error_line, _tune_config, load_sweep
from lavimo.train.sweep_report import summarise_trial

REPO = Path(__file__).resolve().parents[1]
METRIC = "val/t2m/R3"


def _write_sweep(tmp_path, **changes) -> Path:
    spec = {
        "name": "t",
        "base": str(REPO / "ray_configs" / "cpu_demo.yaml"),
        "overrides": {"train.epochs": 4},
        "search_space": {"loss.epsilon": {"uniform": [0.6, 0.9]}},
        **changes,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_the_shipped_cpu_sweep_parses_into_dimensions_and_a_base_config():
    sweep = load_sweep(REPO / "ray_configs" / "tune_cpu_demo.yaml")
    assert [(d.key, d.kind, d.values) for d in sweep.dimensions] == [
        ("loss.epsilon", "uniform", (0.8, 0.975)),
        ("loss.lambda_recon", "loguniform", (0.01, 1.0)),
        ("model.temperature_init", "loguniform", (0.03, 0.2)),
        ("model.learnable_temperature", "choice", (True, False)),
    ]
    base = sweep.base
    assert base.train.epochs == 8 and base.train.checkpoint_every == 2  # the sweep's overrides
    assert base.train.checkpoint_metric == "val/v2m/R1" and base.train.experiment == "lavimo-tune-cpu-demo"
    assert Path(base.data.prepared).is_absolute() and Path(base.data.root).is_absolute()
    assert base.model == load_config(REPO / "ray_configs" / "cpu_demo.yaml").model
    assert sweep.cpus_needed() == 3.0  # one trial at a time: 2 x 0.5 worker CPUs + 2 x 0.5 decode + 1, driver 0


def test_domains_sample_inside_their_bounds(tmp_path):
    space = {
        "loss.epsilon": {"uniform": [0.6, 0.9]},
        "loss.lambda_recon": {"loguniform": [0.01, 1.0]},
        "model.learnable_temperature": {"choice": [True, False]},
        "train.learning_rate": {"grid": [1e-3, 1e-4]},
    }
    domains = {d.key: d.domain() for d in load_sweep(_write_sweep(tmp_path, search_space=space)).dimensions}
    for _ in range(20):
        assert 0.6 <= domains["loss.epsilon"].sample() <= 0.9
        assert 0.01 <= domains["loss.lambda_recon"].sample() <= 1.0
        assert domains["model.learnable_temperature"].sample() in (True, False)
    assert domains["train.learning_rate"] == {"grid_search": [1e-3, 1e-4]}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"search_space": {"train.nope": {"choice": [1, 2]}}}, "search_space.train.nope: unknown key 'train.nope'"),
        ({"search_space": {"loss.epsilon": {"normal": [0.5, 0.1]}}}, "search_space.loss.epsilon: expected one of"),
        (
            {"search_space": {"loss.epsilon": {"uniform": [0.9, 0.6]}}},
            r"search_space.loss.epsilon.uniform: expected \[low, high\] with low < high",
        ),
        ({"search_space": {"loss.epsilon": {"uniform": [-0.5, 0.5]}}}, "loss.epsilon: input should be greater than 0"),
        (
            {"search_space": {"train.epochs": {"uniform": [2, 8]}}},
            "search_space.train.epochs: train.epochs: input should be a valid integer",
        ),
        (
            {"search_space": {"loss.lambda_recon": {"loguniform": [0, 1]}}},
            r"search_space.loss.lambda_recon.loguniform: expected \[low, high\] with 0 < low",
        ),
        (
            {"search_space": {"loss.epsilon": {"choice": []}}},
            "search_space.loss.epsilon.choice: expected a non-empty",
        ),
        ({"search_space": {}}, "search_space: name at least one key"),
        ({"search": "grid"}, "search_space.loss.epsilon: search 'grid' needs 'grid: \\[...\\]' for every key"),
        ({"search": "bayes"}, "search: input should be 'random', 'grid' or 'optuna', got 'bayes'"),
        (
            {"num_samples": 0, "max_failures": -1},
            "2 problems:\n  num_samples: input should be greater than or equal to 1",
        ),
        ({"serach": "random"}, "unknown key 'serach'"),
        ({"overrides": {"train.epoch": 3}}, "overrides: unknown key 'train.epoch'"),
        ({"metric": "val/t2m/MedR"}, "metric: 'val/t2m/MedR' is not a validation recall"),
        ({"asha": {"grace_period": 5}}, r"asha.grace_period: must be in \[1, train.epochs = 4\]"),
        ({"trial_driver_resources": {"CPU": 0}}, "trial_driver_resources: at least one resource above 0"),
        (
            {"trial_driver_resources": {"CPU": -1}},
            "trial_driver_resources.CPU: input should be greater than or equal to 0",
        ),
        ({"base": "missing.yaml"}, "missing.yaml: cannot read config"),
    ],
)
def test_bad_sweeps_are_refused_naming_the_key(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep(_write_sweep(tmp_path, **changes))


def test_a_2_modal_base_has_no_video_metric(tmp_path):
    path = _write_sweep(tmp_path, base=str(REPO / "ray_configs" / "cpu_demo_2modal.yaml"), metric="val/v2m/R1")
    with pytest.raises(ConfigError, match="'val/v2m/R1' is not a validation recall"):
        load_sweep(path)


def test_optuna_takes_no_grid(tmp_path):
    pytest.importorskip("optuna")
    path = _write_sweep(tmp_path, search="optuna", search_space={"loss.epsilon": {"grid": [0.7, 0.8]}})
    with pytest.raises(ConfigError, match="search_space.loss.epsilon: search 'optuna' cannot take a grid"):
        load_sweep(path)


def test_set_changes_the_base_config_and_is_checked(tmp_path):
    path = _write_sweep(tmp_path)
    assert load_sweep(path, ["train.batch_size=16"]).base.train.batch_size == 16
    with pytest.raises(ConfigError, match="--set 'train.batch_size': expected key=value"):
        load_sweep(path, ["train.batch_size"])


def test_a_trials_values_replace_only_their_keys():
    base = load_config(REPO / "ray_configs" / "cpu_demo.yaml")
    trial = with_values(
        base, {"loss.epsilon": 0.71, "model.learnable_temperature": False, "model.temperature_init": 0.05}
    )
    assert (trial.loss.epsilon, trial.model.learnable_temperature, trial.model.temperature_init) == (0.71, False, 0.05)
    assert trial.loss.lambda_recon == base.loss.lambda_recon and trial.model.motion == base.model.motion
    assert base.loss.epsilon == 0.9  # the base is not changed


def test_a_child_run_is_nested_under_its_parent(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from lavimo.tracking import RunLogger, start_run, tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking_uri(str(tmp_path / "runs"))
    parent = start_run(uri, "sweeps", "sweep-1", {"search_space": {"loss.epsilon": {"uniform": [0.6, 0.9]}}})
    child = start_run(uri, "sweeps", "trial_1", {"loss": {"epsilon": 0.7}}, parent_run_id=parent)
    client = MlflowClient(uri)
    assert client.get_run(child).data.tags["mlflow.parentRunId"] == parent
    assert client.get_run(child).data.params == {"loss.epsilon": "0.7"}
    assert "mlflow.parentRunId" not in client.get_run(parent).data.tags
    assert client.get_run(parent).data.params == {"search_space.loss.epsilon.uniform": "[0.6, 0.9]"}
    assert client.get_run(child).info.status == "RUNNING" and client.get_run(child).info.end_time is None
    logger = RunLogger(uri, child, str(tmp_path / "runs" / "sweep-1"))
    logger.finish("FINISHED", end_time_s=1_800_000_000.5)  # the trial's last report
    assert logger.close() == 0
    assert (client.get_run(child).info.status, client.get_run(child).info.end_time) == ("FINISHED", 1_800_000_000_500)


def test_the_error_line_is_the_exception_after_the_traceback():
    error = RuntimeError("Failure # 1\nTraceback (most recent call last):\n  File x\nValueError: loss became nan\n")
    assert _error_line(error) == "ValueError: loss became nan"
    assert _error_line(None) is None


def _rows(metric_by_epoch: dict[int, float], checkpoints: dict[int, Path] | None = None) -> list[dict]:
    """Reported results as Tune's DataFrame gives them: NaN where an epoch saved no checkpoint."""
    saved = checkpoints or {}
    return [
        {"epoch": epoch, METRIC: value, "checkpoint_path": str(saved[epoch]) if epoch in saved else float("nan")}
        for epoch, value in metric_by_epoch.items()
    ]


@pytest.fixture
def trials(tmp_path):
    """Four hand-made trials: completed (its best checkpoint deleted), stopped early by ASHA, restarted, failed."""
    kept = {epoch: tmp_path / f"a{epoch}" for epoch in (1, 2, 3)}
    for epoch in (1, 3):
        kept[epoch].mkdir()
    completed = summarise_trial(
        "a",
        {"loss.epsilon": 0.7, "model.learnable_temperature": True},
        _rows({1: 20.0, 2: 45.0, 3: 40.0}, kept),
        METRIC,
        3,
        mlflow_run_id="run-a",
    )
    stopped = summarise_trial(
        "b", {"loss.epsilon": 0.9, "model.learnable_temperature": False}, _rows({1: 10.0}), METRIC, 3
    )
    history = _rows({1: 30.0, 2: 35.0}) + _rows({2: 36.0, 3: 50.0})  # epoch 2 again after a restart
    restarted = summarise_trial("c", {"loss.epsilon": 0.8, "model.learnable_temperature": True}, history, METRIC, 3)
    failed = summarise_trial(
        "d",
        {"loss.epsilon": 0.65, "model.learnable_temperature": False},
        [],
        METRIC,
        3,
        error="ValueError: loss became nan",
    )
    return [completed, stopped, restarted, failed], kept


def test_trial_summaries_from_reported_results(trials):
    (completed, stopped, restarted, failed), kept = trials
    reports = [{**row, "timestamp": 1_800_000_000 + row["epoch"]} for row in _rows({1: 5.0, 2: 6.0})]
    timed = summarise_trial("e", {}, reports, METRIC, 2)
    assert (timed.last_report_s, failed.last_report_s) == (1_800_000_002, None)
    assert (completed.status, completed.epochs, completed.best, completed.final) == ("completed", 3, 45.0, 40.0)
    assert completed.checkpoint == str(kept[3])  # epoch 2's (best) checkpoint is gone: the best one still stored
    assert (stopped.status, stopped.epochs, stopped.best, stopped.checkpoint) == ("stopped early", 1, 10.0, None)
    assert restarted.curve == ((1, 30.0), (2, 36.0), (3, 50.0)) and restarted.status == "completed"
    assert (failed.status, failed.epochs, failed.best, failed.curve) == ("error", 0, None, ())
    assert sweep_report.best_trial(trials[0]) is restarted
    assert sweep_report.best_trial([failed]) is None


def test_the_table_lists_every_trial_best_first(trials):
    keys = ["loss.epsilon", "model.learnable_temperature"]
    rows = list(csv.reader(io.StringIO(sweep_report.csv_table(trials[0], keys, METRIC))))
    assert rows[0] == ["trial", *keys, f"best {METRIC}", f"final {METRIC}", "epochs", "status", "checkpoint", "error"]
    assert rows[1:] == [
        ["c", "0.8", "True", "50", "50", "3", "completed", "", ""],
        ["a", "0.7", "True", "45", "40", "3", "completed", str(trials[1][3]), ""],
        ["b", "0.9", "False", "10", "10", "1", "stopped early", "", ""],
        ["d", "0.65", "False", "", "", "0", "error", "", "ValueError: loss became nan"],
    ]
    markdown = sweep_report.markdown_table(trials[0], keys, METRIC).splitlines()
    assert (
        markdown[0] == f"| trial | loss.epsilon | model.learnable_temperature | best {METRIC} | final {METRIC} "
        "| epochs | status | checkpoint | error |"
    )
    assert markdown[2] == "| c | 0.8 | True | 50 | 50 | 3 | completed | - | - |"
    assert markdown[-1] == "| d | 0.65 | False | - | - | 0 | error | - | ValueError: loss became nan |"


def test_best_trial_json_points_at_its_checkpoint(trials):
    completed = trials[0][0]
    best = json.loads(sweep_report.best_trial_json(completed, METRIC))
    assert best == {
        "trial_id": "a",
        "metric": METRIC,
        "value": 45.0,
        "checkpoint": str(trials[1][3]),
        "params": {"loss.epsilon": 0.7, "model.learnable_temperature": True},
        "epochs": 3,
        "status": "completed",
        "mlflow_run_id": "run-a",
    }


def test_the_metric_against_each_swept_value(trials):
    keys = ["loss.epsilon", "model.learnable_temperature"]
    figure = sweep_report.metric_vs_params_figure(trials[0], keys, {"loss.epsilon"}, METRIC)
    numeric, boolean = figure.axes
    assert (numeric.get_xlabel(), boolean.get_xlabel()) == tuple(keys)
    assert numeric.get_xscale() == "log" and boolean.get_xscale() == "linear"
    points = numeric.collections[0].get_offsets().tolist()  # the failed trial has no point
    assert sorted(points) == [[0.7, 45.0], [0.8, 50.0], [0.9, 10.0]]
    assert [label.get_text() for label in boolean.get_xticklabels()] == ["False", "True"]
    assert sorted(boolean.collections[0].get_offsets().tolist()) == [[0, 10.0], [1, 45.0], [1, 50.0]]


def test_learning_curves_one_line_per_trial(trials):
    figure = sweep_report.learning_curves_figure(trials[0], METRIC)
    (axes,) = figure.axes
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in axes.lines}
    assert lines == {
        "a (completed)": ([1, 2, 3], [20.0, 45.0, 40.0]),
        "b (stopped early)": ([1], [10.0]),
        "c (completed)": ([1, 2, 3], [30.0, 36.0, 50.0]),
    }
    assert axes.get_xlabel() == "epoch" and axes.get_ylabel() == METRIC


def test_report_files(trials):
    files = sweep_report.report_files(trials[0], ["loss.epsilon"], set(), METRIC)
    assert set(files) == {"trials.csv", "trials.md", "metric_vs_params.png", "learning_curves.png", "best_trial.json"}
    assert all(files[name].startswith(b"\x89PNG\r\n\x1a\n") for name in ("metric_vs_params.png", "learning_curves.png"))
    assert json.loads(files["best_trial.json"])["trial_id"] == "c"
    assert "best_trial.json" not in sweep_report.report_files(trials[0][3:], ["loss.epsilon"], set(), METRIC)


@pytest.mark.parametrize(
    "search, space",
    [
        ("random", {"loss.epsilon": {"uniform": [0.6, 0.9]}}),
        ("grid", {"loss.epsilon": {"grid": [0.6, 0.9]}}),
        ("optuna", {"loss.epsilon": {"uniform": [0.6, 0.9]}}),
    ],
)
def test_every_search_runs_at_most_max_concurrent_trials(tmp_path, search, space):
    if search == "optuna":
        pytest.importorskip("optuna")
    sweep = load_sweep(_write_sweep(tmp_path, search=search, search_space=space, max_concurrent_trials=2))
    tune_config = _tune_config(sweep)
    assert tune_config.search_alg.max_concurrent == 2  # set on the algorithm: Tune ignores TuneConfig's for some
    assert (tune_config.metric, tune_config.mode) == (METRIC, "max")
    assert tune_config.scheduler._max_t == 4 and tune_config.scheduler._time_attr == "epoch"


def test_on_a_tie_the_best_trial_is_the_first_row_of_the_table():
    tied = [summarise_trial(trial_id, {}, _rows({1: 100.0}), METRIC, 1) for trial_id in ("b", "a", "c")]
    assert sweep_report.best_trial(tied).trial_id == "a"
    assert sweep_report.table(tied, [], METRIC)[1][0][0] == "a"


def test_a_resumed_sweep_keeps_its_parent_run_and_refuses_a_changed_spec(tmp_path, monkeypatch):
    from lavimo.train.sweep import _parent_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    sweep = load_sweep(_write_sweep(tmp_path, storage_path=str(tmp_path / "sweeps")))
    folder = str(tmp_path / "sweeps" / "t-1")
    parent = _parent_run(sweep, folder, "t-1", resuming=False)
    assert parent.uri == f"sqlite:///{tmp_path / 'sweeps' / 'mlflow.db'}"
    assert _parent_run(sweep, folder, "t-1", resuming=True) == parent
    changed = load_sweep(_write_sweep(tmp_path, storage_path=str(tmp_path / "sweeps"), num_samples=5))
    with pytest.raises(ConfigError, match="--resume t-1: the sweep config or its base config differs"):
        _parent_run(changed, folder, "t-1", resuming=True)
    with pytest.raises(ConfigError, match="--resume t-2: .*sweep.json does not exist"):
        _parent_run(sweep, str(tmp_path / "sweeps" / "t-2"), "t-2", resuming=True)


def test_the_number_of_trials_crosses_samples_with_every_grid(tmp_path):
    space = {
        "loss.epsilon": {"uniform": [0.6, 0.9]},
        "train.batch_size": {"grid": [8, 16, 32]},
        "model.learnable_temperature": {"grid": [True, False]},
    }
    assert load_sweep(_write_sweep(tmp_path, search_space=space, num_samples=2)).num_trials() == 2 * 3 * 2
    optuna_space = {"loss.epsilon": {"uniform": [0.6, 0.9]}, "train.batch_size": {"choice": [8, 16]}}
    optuna = load_sweep(_write_sweep(tmp_path, search="optuna", search_space=optuna_space, num_samples=5))
    assert optuna.num_trials() == 5


def test_asha_from_the_yaml_stops_a_weaker_trial_at_its_first_rung_not_before(tmp_path):
    """The sweep's scheduler as Tune drives it: epochs are its time, the rung is at grace_period, higher is better."""
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import TrialScheduler

    tune_config = _tune_config(load_sweep(_write_sweep(tmp_path, asha={"grace_period": 2, "reduction_factor": 2})))
    asha = tune_config.scheduler
    asha.set_search_properties(tune_config.metric, tune_config.mode)  # what Tune does with the TuneConfig
    strong, weak = (Trial("run_trial", trial_id=trial_id, stub=True) for trial_id in ("strong", "weak"))
    for trial in (strong, weak):
        asha.on_trial_add(None, trial)

    def decisions(trial, recalls):
        return [
            asha.on_trial_result(None, trial, {"epoch": epoch, METRIC: recall})
            for epoch, recall in enumerate(recalls, start=1)
        ]

    assert decisions(strong, [40.0, 50.0, 60.0]) == [TrialScheduler.CONTINUE] * 3
    assert decisions(weak, [10.0, 20.0]) == [TrialScheduler.CONTINUE, TrialScheduler.STOP]


def test_a_sweep_file_is_read_as_a_training_config_is(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.yaml: cannot read config"):
        load_sweep(tmp_path / "nowhere.yaml")
    (tmp_path / "broken.yaml").write_text("search_space: {loss.epsilon: [")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_sweep(tmp_path / "broken.yaml")
    base = _write_sweep(tmp_path)
    (tmp_path / "longer.yaml").write_text(f"extends: {base.name}\nname: longer\noverrides: {{train.epochs: 6}}\n")
    longer = load_sweep(tmp_path / "longer.yaml")
    assert longer.spec.name == "longer" and longer.base.train.epochs == 6
    assert [d.key for d in longer.dimensions] == ["loss.epsilon"]  # the search space of the sweep it extends
