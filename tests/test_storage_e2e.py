"""A store that fills up during training, end to end: jobs/train.py with the smoke config on the session's Ray head,
its train.storage_path on a 32 MiB tmpfs: the job's start-up check passes, and the first checkpoint (~90 MB: the
text model is in it) fills the store half-way through Ray Train's copy. The job must stop at once with an error
naming the run folder and the operation, without restarting its workers (each restart would meet the same full
store), leave no checkpoint that looks whole, and name the `--resume` command that continues the run once there is
room (tests/test_resume_e2e.py tests that command).

Mounting a tmpfs needs root (the test machines run as root); where it is refused the test is skipped and says why.
"""

import os
import subprocess

import pytest

from lavimo.checkpoint import CheckpointError, check_whole
from tests.test_resume_e2e import RESTART_LOG
from tests.test_train_e2e import REPO, TINY, smoke_command

pytestmark = pytest.mark.e2e

STORE_BYTES = 32 * 2**20  # less than one checkpoint of the smoke config


@pytest.fixture
def small_store(tmp_path):
    """A tmpfs of STORE_BYTES at tmp_path/store, unmounted afterwards."""
    store = tmp_path / "store"
    store.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={STORE_BYTES}", "tmpfs", str(store)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield store
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def test_a_store_that_fills_up_stops_the_run_at_once_naming_it(
    tmp_path, ray_head, mlflow_server, small_store, smoke_data
):
    runs = small_store / "runs"
    settings = {
        **TINY,
        **smoke_data,
        "train.storage_path": str(runs),
        "train.epochs": 3,
        "train.checkpoint_every": 1,
        "train.max_failures": 2,
    }
    environment = dict(os.environ, RAY_ADDRESS=ray_head.address, MLFLOW_TRACKING_URI=mlflow_server)
    done = subprocess.run(
        smoke_command("train.py", tmp_path, settings),
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    text = done.stdout + done.stderr
    (run_folder,) = {path.parent for path in runs.glob("*/lavimo_run.json")}
    assert done.returncode != 0, text[-5000:]
    assert f"train.storage_path {run_folder}: cannot write the checkpoint of epoch 1" in text, text[-5000:]
    assert "No space left on device" in text and f"--resume {run_folder.name}" in text, text[-5000:]
    assert not any(line in text for line in RESTART_LOG), "the workers were restarted:\n" + text[-6000:]
    (partial,) = run_folder.glob("checkpoint_*")  # what the failed copy left
    with pytest.raises(CheckpointError):
        check_whole(partial)
