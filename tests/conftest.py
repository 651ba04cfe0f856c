"""Shared fixtures: one real Ray head (`ray start --head`) for the whole test session, and a real MLflow tracking
server."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

# A hang must fail fast instead of eating CI's time.
os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "60")
os.environ.setdefault("RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S", "120")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# No usage statistics, as for the head (--disable-usage-stats): Ray Data's usage poller would otherwise query a
# Prometheus that is not there, and log into closed streams as pytest exits.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The session cluster's token authentication, as on a real cluster: set before Ray is imported (it reads them then),
# for the head, this process and every job it starts.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@dataclass(frozen=True)
class RayHead:
    address: str  # the GCS address, for ray.init and RAY_ADDRESS
    dashboard: str  # http://127.0.0.1:PORT, for `ray job submit --address`


@pytest.fixture(scope="session")
def ray_head():
    """A real Ray head on localhost with its dashboard (`ray start --head`), shared by every test that needs Ray.

    Every port is a free one and the session folder a new one, so that other Ray clusters on the machine are left
    alone; token authentication is on, as on a real cluster. The cluster is stopped afterwards, whatever happened."""
    import ray

    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay < 108 bytes
    gcs, dashboard, agent, client = (free_port() for _ in range(4))
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        f"--port={gcs}",
        "--num-cpus=2",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={agent}",
        f"--ray-client-server-port={client}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    signal.signal(signal.SIGTERM, _exit_through_teardown)
    log_path = Path(temp_dir) / "ray_start.log"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `python` in a job is this one
    with open(log_path, "w") as log:
        head = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ, PATH=path)
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{dashboard}/api/version", head, log_path)
        ray.init(address=f"127.0.0.1:{gcs}", log_to_driver=False)
        yield RayHead(f"127.0.0.1:{gcs}", f"http://127.0.0.1:{dashboard}")
    finally:
        ray.shutdown()
        _stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(ray_head):
    """The session cluster's address (RAY_ADDRESS for a job; this process is already connected)."""
    return ray_head.address


def _exit_through_teardown(signum, frame):
    """SIGTERM (a CI timeout, a kill) ends the session by an exception, so that the fixtures' teardown stops the
    Ray head, which runs in its own session and would outlive pytest."""
    raise SystemExit(f"pytest received signal {signum}")


def _wait_until_up(url: str, server: subprocess.Popen, log_path: Path, timeout_s: float = 300) -> None:
    """Polls url (with the Ray token when there is one) until it answers; fails with the server's log if it died."""
    token = os.environ.get("RAY_AUTH_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout_s  # a loaded 2-core machine can take minutes
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2):
                return
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 20 s."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


def free_port() -> int:
    """A localhost port that nothing listens on now (a server can take it; a client there is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TrackingServer:
    """A real `mlflow server` on localhost (SQLite store and artifacts in `folder`), which a test can stop, as a
    crash or a partition does (SIGKILL), and start again on the same port and store."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            f"sqlite:///{self.folder / 'server.db'}",
            "--artifacts-destination",
            str(self.folder / "artifacts"),
            "--workers",
            "1",
        ]
        log_path = self.folder / "mlflow_server.log"
        with open(log_path, "a") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_until_up(f"{self.uri}/health", self._process, log_path)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory) -> dict[str, str]:
    """The data settings of one synthetic dataset of the smoke config for the whole session: the first training job
    that uses them generates and prepares it, the later ones find it prepared (rendering and embedding it once per
    test cost about 40 s each)."""
    folder = tmp_path_factory.mktemp("smoke_data")
    return {"data.root": str(folder / "synthetic"), "data.prepared": str(folder / "prepared")}


@pytest.fixture
def tracking_server(tmp_path):
    """A TrackingServer in tmp_path, started; stopped afterwards, whatever happened."""
    server = TrackingServer(tmp_path / "mlflow")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def mlflow_server(tracking_server):
    """The URI of a real MLflow tracking server on localhost (see TrackingServer)."""
    return tracking_server.uri
