"""What a job's driver asks Ray to pass on to its workers."""

import json

from lavimo.ray_cluster import JOB_CONFIG_VARIABLE, driver_env_vars, mlflow_client_settings


def test_mlflow_settings_are_passed_on_except_those_a_submitted_job_sets_itself(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://head:5000")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("LAVIMO_MLFLOW_FLUSH_S", "5")
    monkeypatch.delenv(JOB_CONFIG_VARIABLE, raising=False)
    wanted = {**mlflow_client_settings(), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    assert {"MLFLOW_TRACKING_URI", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "LAVIMO_MLFLOW_FLUSH_S"} <= set(wanted)
    assert driver_env_vars(wanted) == wanted  # a plain driver passes everything on
    submitted = {
        "runtime_env": {"working_dir": "gcs://pkg.zip", "env_vars": {"MLFLOW_TRACKING_URI": "http://head:5000"}}
    }
    monkeypatch.setenv(JOB_CONFIG_VARIABLE, json.dumps(submitted))  # as `ray job submit --runtime-env-json` does
    passed = driver_env_vars(wanted)
    assert "MLFLOW_TRACKING_URI" not in passed  # Ray refuses a variable the job's runtime env sets already
    assert passed["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0" and passed["RAY_DATA_DISABLE_PROGRESS_BARS"] == "1"
