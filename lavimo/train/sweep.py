"""Ray Tune over Ray Train: the sweep YAML, its search space, one full training run per trial, MLflow parent/child."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import ray
import ray.tune
from pydantic import Field
from ray.tune.experiment import Trial
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter, SearchAlgorithm
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.util.state import list_nodes
from ray.util.state.exception import RayStateApiException

from lavimo import checkpoint, outbox, storage, tracking
from lavimo.config import ConfigError, LavimoConfig, load_config, migrate_recorded, parse_set, read_yaml, with_values
from lavimo.directions import validation_recalls
from lavimo.schema import Count, Int, Section, build
from lavimo.train import sweep_report
from lavimo.train.job import ensure_prepared
from lavimo.train.sweep_report import TrialSummary
from lavimo.train.trainer import cpus_needed, default_tracking_uri, train

log = logging.getLogger(__name__)
DISTRIBUTIONS = ("uniform", "loguniform", "choice", "grid")
SWEEP_FILE = "sweep.json"  # in the sweep folder: the spec, the base config and the MLflow parent run
TRAIN_RUNS = "train_runs"  # in the sweep folder: one Ray Train run per trial, named after the trial


class AshaSpec(Section):
    grace_period: Count = 1  # epochs every trial runs before ASHA may stop it (at most train.epochs)
    reduction_factor: Annotated[Int, Field(ge=2)] = 2  # at each rung ASHA lets 1 in reduction_factor trials go on


class SweepSpec(Section):
    """The sweep YAML as written (see ray_configs/tune_cpu_demo.yaml)."""

    name: str = "sweep"
    base: str = "cpu_demo.yaml"  # the training config, relative to the sweep YAML
    overrides: dict[str, Any] = {}  # {"train.epochs": 8}: changes to the base config
    search_space: dict[str, Any] = {}  # {"loss.epsilon": {"uniform": [0.6, 0.95]}, ...}
    search: Literal["random", "grid", "optuna"] = "random"  # optuna: TPE
    num_samples: Count = 1  # trials (random, optuna); repeats of the whole grid (grid)
    metric: str = "val/t2m/R3"  # maximised by the sweep; also each trial's train.checkpoint_metric
    asha: AshaSpec = AshaSpec()  # max_t is the base config's train.epochs
    max_concurrent_trials: Count = 1
    trial_driver_resources: dict[str, Annotated[float, Field(ge=0.0)]] = {"CPU": 0, "memory": 256 * 2**20}
    max_failures: Annotated[Int, Field(ge=0)] = 1  # a failed trial is restarted this often (from its last checkpoint)
    seed: Int = 0
    storage_path: str = "outputs/sweeps"  # the sweep folder is storage_path/NAME (path or URI)
    experiment: str = "lavimo-tune"  # MLflow experiment of the parent run and of every trial's run

    def problems(self) -> list[tuple[str, str]]:
        if not any(self.trial_driver_resources.values()):  # Tune refuses an empty request
            return [("trial_driver_resources", "at least one resource above 0, e.g. {CPU: 0, memory: 268435456}")]
        return []


@dataclass(frozen=True)
class Dimension:
    """One swept key of the training config and its distribution."""

    key: str  # dotted, e.g. loss.epsilon
    kind: str  # uniform | loguniform | choice | grid
    values: tuple  # (low, high) for uniform and loguniform; the candidates for choice and grid

    def domain(self) -> Any:
        if self.kind == "uniform":
            return ray.tune.uniform(*self.values)
        if self.kind == "loguniform":
            return ray.tune.loguniform(*self.values)
        if self.kind == "choice":
            return ray.tune.choice(list(self.values))
        return ray.tune.grid_search(list(self.values))


@dataclass(frozen=True)
class Sweep:
    spec: SweepSpec
    base: LavimoConfig  # what every trial starts from: overrides applied, data paths absolute
    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [dimension.key for dimension in self.dimensions]

    def num_trials(self) -> int:
        """Trials the sweep runs in all: num_samples, each crossed with every grid (random and grid search)."""
        return self.spec.num_samples * math.prod(len(d.values) for d in self.dimensions if d.kind == "grid")

    def cpus_needed(self) -> float:
        """Logical CPUs for max_concurrent_trials trials at once: their drivers, workers and decode tasks."""
        driver = float(self.spec.trial_driver_resources.get("CPU", 0))
        return self.spec.max_concurrent_trials * (driver + cpus_needed(self.base))


@dataclass(frozen=True)
class SweepResult:
    name: str
    folder: str
    parent: tracking.ParentRun
    trials: list[TrialSummary]
    best: TrialSummary
    metric: str

    def describe(self) -> str:
        keys = list(self.best.params)
        return "\n".join(
            [
                f"sweep {self.name}: {len(self.trials)} trials",
                sweep_report.markdown_table(self.trials, keys, self.metric),
                f"best trial:      {self.best.trial_id}, {self.metric} {self.best.best:.4g} at {self.best.params}",
                f"best checkpoint: {self.best.checkpoint}",
                f"sweep folder:    {self.folder} (best_trial.json, trials.csv, trials.md, pictures)",
                f"MLflow parent:   {self.parent.run_id} in {self.parent.uri}",
                f"see it with:     {tracking.ui_command(self.parent.uri)}",
            ]
        )


def parse_dimension(key: str, raw: Any, base: LavimoConfig) -> Dimension:
    """`{uniform|loguniform: [low, high]}` or `{choice|grid: [values...]}`, checked against the training config."""
    where = f"search_space.{key}"
    if not (isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in DISTRIBUTIONS):
        raise ConfigError(f"{where}: expected one of {{{'|'.join(DISTRIBUTIONS)}: [...]}}, got {raw!r}")
    ((kind, values),) = raw.items()
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list, got {values!r}")
    if kind in ("uniform", "loguniform"):
        if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ConfigError(f"{where}.{kind}: expected [low, high], got {values!r}")
        low, high = float(values[0]), float(values[1])
        if not low < high or (kind == "loguniform" and low <= 0):
            need = "0 < low < high" if kind == "loguniform" else "low < high"
            raise ConfigError(f"{where}.{kind}: expected [low, high] with {need}, got {values!r}")
        values = [low, (low + high) / 2, high]  # a float in the middle: an int key is refused
    for value in values:
        try:
            with_values(base, {key: value})
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    bounds = (values[0], values[-1]) if kind in ("uniform", "loguniform") else tuple(values)
    return Dimension(key, kind, bounds)


def parse_search_space(spec: SweepSpec, base: LavimoConfig) -> tuple[Dimension, ...]:
    """Every dimension, and the search algorithm's limits: grid needs only grids, Optuna takes no grid."""
    if not spec.search_space:
        raise ConfigError("search_space: name at least one key of the training config to sweep")
    dimensions = tuple(parse_dimension(key, raw, base) for key, raw in spec.search_space.items())
    for dimension in dimensions:
        if spec.search == "grid" and dimension.kind != "grid":
            raise ConfigError(
                f"search_space.{dimension.key}: search 'grid' needs 'grid: [...]' for every key, got {dimension.kind}"
            )
        if spec.search == "optuna" and dimension.kind == "grid":
            raise ConfigError(f"search_space.{dimension.key}: search 'optuna' cannot take a grid; use 'choice'")
    return dimensions


def _check_spec(spec: SweepSpec, epochs: int) -> None:
    """What the spec alone cannot check: the optional optuna package, ASHA's grace period against the epochs."""
    if spec.search == "optuna" and importlib.util.find_spec("optuna") is None:
        raise ConfigError("search: 'optuna' needs the optuna package (pip install optuna)")
    if spec.asha.grace_period > epochs:
        raise ConfigError(f"asha.grace_period: must be in [1, train.epochs = {epochs}], got {spec.asha.grace_period}")


def _check_metric(metric: str, config: LavimoConfig) -> None:
    """The metric must be a validation recall the train loop reports for this config's modalities."""
    allowed = validation_recalls(config.model.modalities)
    if metric not in allowed:
        raise ConfigError(
            f"metric: {metric!r} is not a validation recall of this config (the sweep maximises it); "
            f"one of {', '.join(allowed)}"
        )


def _base_config(spec: SweepSpec, folder: Path, sets: Sequence[str]) -> LavimoConfig:
    """The base training config, its overrides and `key=value` sets applied, then the sweep's own settings."""
    base = load_config(folder / spec.base)
    changes = dict(spec.overrides) | dict(parse_set(item) for item in sets)
    try:
        base = with_values(base, changes)
    except ConfigError as err:
        raise ConfigError(f"overrides: {err}") from None
    _check_metric(spec.metric, base)
    return with_values(
        base,
        {
            "train.checkpoint_metric": spec.metric,
            "train.experiment": spec.experiment,
            "data.root": storage.absolute(base.data.root),  # trials run in other folders
            "data.prepared": storage.absolute(base.data.prepared),
        },
    )


def load_sweep(path: str | Path, sets: Sequence[str] = ()) -> Sweep:
    """Reads and validates a sweep YAML; `sets` (key=value) change the base training config."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        spec = build(SweepSpec, raw)
        base = _base_config(spec, path.parent, sets)
        _check_spec(spec, base.train.epochs)
        return Sweep(spec, base, parse_search_space(spec, base))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def trial_run_name(trial_id: str) -> str:
    """The trial's folder in Tune's experiment, its Ray Train run and its MLflow run: a restart resumes all three."""
    return f"trial_{trial_id}"


def _trial_dirname(trial: Any) -> str:
    return trial_run_name(trial.trial_id)


def run_trial(values: dict, base: LavimoConfig, parent: tracking.ParentRun) -> None:
    """A Tune trial (function trainable): a full Ray Train run of the base config with the trial's values.

    TuneReportCallback forwards every epoch's report of rank 0 (and its checkpoint_path) to Tune, where ASHA
    may stop the trial; the MLflow run is a child of the sweep's run."""
    config = with_values(base, values)
    name = trial_run_name(ray.tune.get_context().get_trial_id())
    try:
        train(config, name, parent=parent, callbacks=[TuneReportCallback()])
    finally:
        outbox.close_all()  # the trial's own records (its tags), before Tune ends this process


def run_sweep(sweep: Sweep, resume: str | None = None) -> SweepResult:
    """Prepares the data once, runs (or, with `resume` = a sweep's name, resumes) the trials, writes the report."""
    _warn_without_state_api()
    storage.check_writable(storage.absolute(sweep.spec.storage_path), "storage_path")  # before any trial runs
    ensure_prepared(sweep.base)
    name = resume or f"{sweep.spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    root = storage.absolute(sweep.spec.storage_path)
    folder = storage.join(root, name)
    parent = _parent_run(sweep, folder, name, resuming=resume is not None)
    log.info("sweep %s in %s, MLflow parent run %s in %s", name, folder, parent.run_id, parent.uri)
    base = with_values(sweep.base, {"train.storage_path": storage.join(folder, TRAIN_RUNS)})
    grid = _tuner(sweep, base, parent, root, name, resuming=resume is not None).fit()
    saved = ray.tune.ExperimentAnalysis(folder)  # Tune's state as saved: trials pending or running at Ctrl+C too
    trials = [_trial_summary(result, saved.get_all_configs(), sweep, base) for result in grid]
    # Tune marks a trial running at Ctrl+C terminated in the result grid but saves it unfinished, and a resume
    # runs it again; trials the searcher has not made yet are in neither
    finished = sum(trial.status in (Trial.TERMINATED, Trial.ERROR) for trial in saved.trials)
    if finished < sweep.num_trials():
        raise RuntimeError(
            f"sweep {name} was interrupted with {sweep.num_trials() - finished} trial(s) unfinished; "
            f"Tune saved its state in {folder}: resume it with --resume {name}"
        )
    return _record(sweep, name, folder, parent, trials)


def _tuner(
    sweep: Sweep, base: LavimoConfig, parent: tracking.ParentRun, root: str, name: str, resuming: bool
) -> ray.tune.Tuner:
    """A new Tuner for the sweep folder root/name, or the interrupted one restored from it (errored trials too)."""
    trainable = ray.tune.with_resources(
        ray.tune.with_parameters(run_trial, base=base, parent=parent), dict(sweep.spec.trial_driver_resources)
    )
    folder = storage.join(root, name)
    if resuming:
        if not ray.tune.Tuner.can_restore(folder):
            raise ConfigError(f"--resume {name}: {folder} holds no Tune experiment to resume")
        return ray.tune.Tuner.restore(folder, trainable, resume_errored=True)
    return ray.tune.Tuner(
        trainable,
        param_space={d.key: d.domain() for d in sweep.dimensions},
        tune_config=_tune_config(sweep),
        run_config=ray.tune.RunConfig(
            name=name, storage_path=root, failure_config=ray.tune.FailureConfig(max_failures=sweep.spec.max_failures)
        ),
    )


def _warn_without_state_api() -> None:
    """Ray Train frees an early-stopped trial's workers through the State API (served by the dashboard); without
    it the next trial waits for their CPUs for ever."""
    try:
        list_nodes(address=ray.get_runtime_context().gcs_address, limit=1, timeout=5)  # this job's cluster
    except RayStateApiException:
        log.warning(
            "the Ray State API does not answer (is the dashboard off?): when ASHA stops a trial early, its "
            "Train workers stay reserved and the next trial may wait for ever; start Ray with the dashboard "
            "(ray[default])"
        )


def _tune_config(sweep: Sweep) -> ray.tune.TuneConfig:
    """The search algorithm and ASHA on the metric (time in epochs, max_t = train.epochs)."""
    spec = sweep.spec
    # stop_last_trials=False: a trial that reaches max_t ends by itself, so Train releases its workers in order
    scheduler = ASHAScheduler(
        time_attr="epoch",
        max_t=sweep.base.train.epochs,
        grace_period=spec.asha.grace_period,
        reduction_factor=spec.asha.reduction_factor,
        stop_last_trials=False,
    )
    return ray.tune.TuneConfig(
        metric=spec.metric,
        mode="max",
        search_alg=_search_algorithm(spec),
        scheduler=scheduler,
        num_samples=spec.num_samples,
        trial_dirname_creator=_trial_dirname,
    )


def _search_algorithm(spec: SweepSpec) -> SearchAlgorithm:
    """Random samples crossed with any grids, or Optuna's TPE; either runs max_concurrent_trials at a time (Tune
    ignores TuneConfig.max_concurrent_trials for a BasicVariantGenerator passed in, so the limit is set here)."""
    if spec.search == "optuna":
        from ray.tune.search.optuna import OptunaSearch  # imported only when used (an optional package)

        return ConcurrencyLimiter(OptunaSearch(seed=spec.seed), max_concurrent=spec.max_concurrent_trials)
    return BasicVariantGenerator(max_concurrent=spec.max_concurrent_trials, random_state=spec.seed)


def _parent_run(sweep: Sweep, folder: str, name: str, resuming: bool) -> tracking.ParentRun:
    """The sweep's MLflow run, recorded in the sweep folder; a resumed sweep must have the same spec and base."""
    record = storage.join(folder, SWEEP_FILE)
    described = {"spec": sweep.spec.to_dict(), "base": sweep.base.to_dict()}
    if resuming:
        if not storage.is_file(record):
            raise ConfigError(f"--resume {name}: {record} does not exist")
        saved = json.loads(storage.read_text(record))
        saved["base"] = migrate_recorded(saved["base"])  # recorded by an earlier version: its renamed keys moved
        if {key: saved[key] for key in described} != described:
            raise ConfigError(
                f"--resume {name}: the sweep config or its base config differs from the one in "
                f"{record}; Tune cannot change a sweep while resuming it"
            )
        tracking.check_reachable(saved["mlflow_uri"])
        return tracking.ParentRun(saved["mlflow_uri"], saved["run_id"])
    uri = default_tracking_uri(storage.absolute(sweep.spec.storage_path))
    tracking.check_reachable(uri)
    run_id = tracking.start_run(uri, sweep.spec.experiment, name, described["spec"])
    storage.write_bytes_atomic(record, json.dumps({**described, "mlflow_uri": uri, "run_id": run_id}).encode())
    return tracking.ParentRun(uri, run_id)


def _trial_summary(
    result: ray.tune.Result, values_by_trial: dict[str, dict], sweep: Sweep, base: LavimoConfig
) -> TrialSummary:
    trial_id = Path(result.path).name.removeprefix("trial_")  # the folder _trial_dirname named
    values = values_by_trial[trial_id]
    frame = result.metrics_dataframe
    history = frame.to_dict("records") if frame is not None else []
    record = checkpoint.read_run_record(storage.join(base.train.storage_path, trial_run_name(trial_id)))
    run_id = record["run_id"] if record else None
    return sweep_report.summarise_trial(
        trial_id,
        {key: values.get(key) for key in sweep.keys},
        history,
        sweep.spec.metric,
        base.train.epochs,
        _error_line(result.error),
        run_id,
    )


def _error_line(error: BaseException | None) -> str | None:
    """The last line of a trial's error (the exception itself, after Ray's traceback)."""
    if error is None:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    return lines[-1][:300]


def _record(
    sweep: Sweep, name: str, folder: str, parent: tracking.ParentRun, trials: list[TrialSummary]
) -> SweepResult:
    """Writes the report into the sweep folder and the parent run, and closes every trial's child run."""
    metric = sweep.spec.metric
    log_keys = {d.key for d in sweep.dimensions if d.kind == "loguniform"}
    logger = tracking.RunLogger(parent.uri, parent.run_id, folder)
    for file_name, data in sweep_report.report_files(trials, sweep.keys, log_keys, metric).items():
        storage.write_bytes_atomic(storage.join(folder, file_name), data)
        logger.artifact_bytes(data, file_name)
    for trial in trials:
        if trial.mlflow_run_id is not None:
            child = tracking.RunLogger(parent.uri, trial.mlflow_run_id, folder)
            child.tags(
                {
                    "tune.trial_id": trial.trial_id,
                    "tune.status": trial.status,
                    "tune.swept": json.dumps(trial.params, sort_keys=True),
                }
            )
            child.finish("FAILED" if trial.status == sweep_report.ERROR else "FINISHED", trial.last_report_s)
            child.close()
    best = sweep_report.best_trial(trials)
    if best is None:
        logger.finish("FAILED")
        logger.close()
        raise RuntimeError(f"sweep {name}: no trial reported {metric}; see {storage.join(folder, 'trials.md')}")
    logger.metrics({f"best/{metric}": best.best}, step=best.epochs)
    logger.finish()
    logger.close()
    return SweepResult(name, folder, parent, trials, best, metric)
