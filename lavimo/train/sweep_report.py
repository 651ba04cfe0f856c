"""A sweep's results: one summary per trial, the best trial, the trials table (CSV, Markdown) and its pictures."""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

from lavimo import storage

COMPLETED, STOPPED, ERROR, NOT_RUN = "completed", "stopped early", "error", "not run"
STATUS_COLOURS = {COMPLETED: "tab:blue", STOPPED: "tab:orange"}


@dataclass(frozen=True)
class TrialSummary:
    trial_id: str
    params: dict[str, Any]  # swept key -> this trial's value
    status: str  # completed | stopped early (ASHA) | error | not run
    epochs: int  # epochs run (ASHA stops some before train.epochs)
    best: float | None  # best validation metric over the epochs
    final: float | None  # the metric at the last epoch run
    checkpoint: str | None  # the kept checkpoint with the best metric
    curve: tuple[tuple[int, float], ...]  # (epoch, metric) per epoch run
    error: str | None = None
    mlflow_run_id: str | None = None
    last_report_s: float | None = None  # Unix time of the trial's last report (Tune's `timestamp`)


def summarise_trial(
    trial_id: str,
    params: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    metric: str,
    max_epochs: int,
    error: str | None = None,
    mlflow_run_id: str | None = None,
) -> TrialSummary:
    """One trial from its reported results (one per epoch: `epoch`, the metric, `checkpoint_path` when saved)."""
    by_epoch = {int(row["epoch"]): float(row[metric]) for row in history if _number(row.get(metric))}
    curve = tuple(sorted(by_epoch.items()))  # a restarted trial re-reports epochs: the last report wins
    epochs = max((int(row["epoch"]) for row in history if _number(row.get("epoch"))), default=0)
    if error:
        status = ERROR
    else:
        status = COMPLETED if epochs >= max_epochs else STOPPED if epochs else NOT_RUN
    last_report = max((float(row["timestamp"]) for row in history if _number(row.get("timestamp"))), default=None)
    return TrialSummary(
        trial_id,
        dict(params),
        status,
        epochs,
        max(by_epoch.values(), default=None),
        curve[-1][1] if curve else None,
        _best_checkpoint(history, metric),
        curve,
        error,
        mlflow_run_id,
        last_report,
    )


def _number(value: Any) -> bool:
    """A finite number (numpy's too, as results come from a DataFrame); not a bool, None or NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _best_checkpoint(history: Sequence[Mapping[str, Any]], metric: str) -> str | None:
    """The reported checkpoint with the best metric among those still stored (Train keeps only the best few)."""
    saved = [
        row
        for row in history
        if isinstance(row.get("checkpoint_path"), str)
        and _number(row.get(metric))
        and storage.exists(row["checkpoint_path"])
    ]
    return max(saved, key=lambda row: row[metric])["checkpoint_path"] if saved else None


def best_trial(trials: Sequence[TrialSummary]) -> TrialSummary | None:
    """The trial with the highest best metric (on a tie the first by id, as in the table); None when none scored."""
    scored = [trial for trial in trials if trial.best is not None]
    return min(scored, key=lambda trial: (-trial.best, trial.trial_id)) if scored else None


def best_trial_json(trial: TrialSummary, metric: str) -> str:
    return json.dumps(
        {
            "trial_id": trial.trial_id,
            "metric": metric,
            "value": trial.best,
            "params": trial.params,
            "checkpoint": trial.checkpoint,
            "epochs": trial.epochs,
            "status": trial.status,
            "mlflow_run_id": trial.mlflow_run_id,
        },
        indent=2,
    )


def table(trials: Sequence[TrialSummary], keys: Sequence[str], metric: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per trial, best first; empty cells where a trial has no value."""
    header = ["trial", *keys, f"best {metric}", f"final {metric}", "epochs", "status", "checkpoint", "error"]
    ordered = sorted(trials, key=lambda t: (t.best is None, -(t.best or 0.0), t.trial_id))
    rows = [
        [
            t.trial_id,
            *(_cell(t.params.get(k)) for k in keys),
            _cell(t.best),
            _cell(t.final),
            str(t.epochs),
            t.status,
            t.checkpoint or "",
            (t.error or "").replace("|", "/"),
        ]
        for t in ordered
    ]
    return header, rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def csv_table(trials: Sequence[TrialSummary], keys: Sequence[str], metric: str) -> str:
    header, rows = table(trials, keys, metric)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def markdown_table(trials: Sequence[TrialSummary], keys: Sequence[str], metric: str) -> str:
    header, rows = table(trials, keys, metric)
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(cell or "-" for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def metric_vs_params_figure(
    trials: Sequence[TrialSummary], keys: Sequence[str], log_keys: set[str], metric: str
) -> Figure:
    """One panel per swept key: each trial's best metric against its value (log x for log-uniform keys)."""
    figure = Figure(figsize=(4.0 * len(keys), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    scored = [trial for trial in trials if trial.best is not None]
    for axes, key in zip(figure.subplots(1, len(keys), squeeze=False)[0], keys):
        positions = _x_positions(axes, [trial.params.get(key) for trial in scored], key in log_keys)
        axes.scatter(
            positions,
            [trial.best for trial in scored],
            c=[STATUS_COLOURS.get(trial.status, "tab:gray") for trial in scored],
        )
        axes.set_xlabel(key)
        axes.set_ylabel(f"best {metric}")
    figure.suptitle(f"best {metric} per trial (blue: completed, orange: stopped early)")
    return figure


def _x_positions(axes: Axes, values: list[Any], log: bool) -> list[float]:
    """Numbers stay on their axis (log-scaled when `log`); choices (booleans, strings) get one slot each."""
    if all(_number(value) for value in values):
        if log:
            axes.set_xscale("log")
            axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 0.01 0.02 0.05 0.1 ...
            axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        return values
    labels = sorted({str(value) for value in values})
    axes.set_xticks(range(len(labels)), labels)
    axes.set_xlim(-0.5, len(labels) - 0.5)
    return [labels.index(str(value)) for value in values]


def learning_curves_figure(trials: Sequence[TrialSummary], metric: str) -> Figure:
    """The metric against the epoch, one line per trial."""
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for trial in trials:
        if trial.curve:
            epochs, values = zip(*trial.curve)
            axes.plot(epochs, values, marker="o", label=f"{trial.trial_id} ({trial.status})")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(metric)
    if axes.lines:
        axes.legend(fontsize="small")
    return figure


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def report_files(
    trials: Sequence[TrialSummary], keys: Sequence[str], log_keys: set[str], metric: str
) -> dict[str, bytes]:
    """File name -> contents: trials.csv, trials.md, the two pictures, and best_trial.json when a trial scored."""
    files = {
        "trials.csv": csv_table(trials, keys, metric).encode(),
        "trials.md": markdown_table(trials, keys, metric).encode(),
        "metric_vs_params.png": png(metric_vs_params_figure(trials, keys, log_keys, metric)),
        "learning_curves.png": png(learning_curves_figure(trials, metric)),
    }
    best = best_trial(trials)
    if best is not None:
        files["best_trial.json"] = best_trial_json(best, metric).encode()
    return files
