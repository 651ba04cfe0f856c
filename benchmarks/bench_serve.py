"""Benchmark of the motion search service: jobs/serve.py under a bounded load on localhost, and its in-process floor.

In one run, for one checkpoint (--checkpoint; the embedded default's is the best checkpoint of a
`lavimo train` run under outputs/runs/cpu_demo-*/), it measures:

  (a) the floor: the same text queries as (b), sequentially, through the in-process code path (MotionLibrary:
      `library.search(library.encoder.text(sentence), k)`, no HTTP), torch on as many threads as a replica has
      CPUs; and the same video clips as (b) through `library.encoder.video(path)` + the search;
  (b) the service, once per --replicas setting (default 1, then 2; each replica --replica-cpus CPUs): jobs/serve.py
      is started as a subprocess with its own local Ray cluster (RAY_ADDRESS unset) on a free localhost port; once
      it prints its `serving ` line and /healthz answers, a few untimed warm-up requests, then three phases:
        - sequential: 1 client x --sequential text queries (the service's latency with no queueing);
        - text load: --clients concurrent clients x --queries text queries each (POST /search/text);
        - video load: --video-clients concurrent clients x --videos uploads each (POST /search/video) of the
          prepared dataset's rendered clips (view 0 of each motion in the manifests);
      then it is stopped with SIGINT (as Ctrl+C does) and waited for.

The text queries are a fixed, seeded list of varied sentences; the clips a seeded sample of the manifests' videos.
Each client is a thread with its own requests.Session; latency is the client's wall time of one request (the
upload included), queries/s is the phase's requests over its wall time (first request sent to last answer).
An error is a non-200 answer, a failed connection or an answer without k results. The load generator runs on the
same machine as the service and shares its cores, which the report states (cores, load average).

The report (Markdown, stdout) has one row per phase and a "where the time goes" section computed from the rows:
the fraction of the service's sequential p50 that the in-process floor (model + search) accounts for, the rest
being HTTP, the Serve proxy and router, the batching wait and (de)serialisation; the queueing added under load;
and the speedup of the most replicas over one in queries/s. Progress (and the services' logs, on failure) goes to
stderr; each service's full log is kept in --log-dir.

    .venv/bin/python benchmarks/bench_serve.py --checkpoint outputs/runs/cpu_demo-.../checkpoint_000004  # minutes
    .venv/bin/python benchmarks/bench_serve.py --checkpoint C --replicas 1 --clients 4 --queries 10 --videos 2
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
SERVE_JOB = REPO / "jobs" / "serve.py"

SUBJECTS = ["a person", "someone", "a man", "a woman", "the figure", "a dancer", "an athlete", "a child"]
ACTIONS = [
    "walks forward",
    "walks backwards",
    "runs in a circle",
    "jumps twice",
    "jumps forward",
    "hops on one leg",
    "waves with the left hand",
    "waves with the right hand",
    "kicks with the right leg",
    "kicks with the left foot",
    "sits down",
    "stands up",
    "turns around",
    "crouches",
    "spins in place",
    "raises both arms",
    "claps hands",
    "punches forward",
    "steps to the side",
    "bends over",
    "stretches the arms",
    "does jumping jacks",
    "climbs stairs",
    "throws a ball",
]
MANNERS = [
    "",
    " slowly",
    " quickly",
    " twice",
    " three times",
    " and then stops",
    " and then turns around",
    " while looking down",
    " then walks away",
    " with energy",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint folder of a training run")
    parser.add_argument("--replicas", default="1,2", help="replica counts to serve with, comma-separated")
    parser.add_argument("--replica-cpus", type=float, default=1.0, help="CPUs per replica (jobs/serve.py)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent text clients")
    parser.add_argument("--queries", type=int, default=50, help="text queries per client")
    parser.add_argument("--video-clients", type=int, default=4, help="concurrent video clients")
    parser.add_argument("--videos", type=int, default=10, help="video uploads per video client")
    parser.add_argument("--sequential", type=int, default=30, help="text queries of the 1-client phase")
    parser.add_argument("--k", type=int, default=5, help="top k of each query")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sentences and the choice of clips")
    parser.add_argument("--startup-timeout", type=float, default=900, help="seconds to wait for a service")
    parser.add_argument("--request-timeout", type=float, default=120, help="seconds per request")
    parser.add_argument("--log-dir", help="where the services' logs go (default: a new temporary folder)")
    args = parser.parse_args()
    args.replica_counts = [int(count) for count in args.replicas.split(",") if count.strip()]
    return args


def progress(message: str) -> None:
    print(f"[bench_serve {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------- workload


def sentences(count: int, seed: int) -> list[str]:
    """`count` text queries, varied (subject, action, manner) and seeded."""
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}{rng.choice(MANNERS)}" for _ in range(count)]


def clips(prepared: str, splits: list[str], count: int, seed: int) -> list[str]:
    """`count` local video files of the manifests (view 0 of each motion), a seeded sample (repeats if too few)."""
    from lavimo import storage
    from lavimo.eval.retrieval import motion_records

    records = motion_records(prepared, splits)
    paths = sorted(
        {r.video_path for r in records.values() if not storage.is_uri(r.video_path) and Path(r.video_path).is_file()}
    )
    if not paths:
        raise SystemExit(f"{prepared}: no local video files in the manifests of {', '.join(splits)}")
    rng = random.Random(seed)
    return rng.sample(paths, count) if count <= len(paths) else [rng.choice(paths) for _ in range(count)]


# ---------------------------------------------------------------------------------------------------- statistics


@dataclass
class Phase:
    name: str
    replicas: int | None  # None: in-process
    clients: int
    latencies: list[float] = field(default_factory=list)  # ms, of the requests that succeeded
    errors: Counter = field(default_factory=Counter)  # reason -> count
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    @property
    def qps(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else float("nan")

    def row(self) -> str:
        where = "in-process" if self.replicas is None else f"{self.replicas}"
        errors = sum(self.errors.values())
        return (
            f"| {self.name} | {where} | {self.clients} | {self.requests} | {f'**{errors}**' if errors else 0} | "
            f"{self.percentile(50):.1f} | {self.percentile(95):.1f} | {self.percentile(99):.1f} | "
            f"{self.qps:.1f} |"
        )


# ---------------------------------------------------------------------------------------------------- (a) floor


def in_process_floor(args: argparse.Namespace, texts: list[str], videos: list[str]) -> tuple[Phase, Phase, dict, dict]:
    """The text and video queries, sequentially, through MotionLibrary -> (text phase, video phase,
    sentence -> top-k ids, what the report says of the library)."""
    import torch

    from lavimo import checkpoint, storage
    from lavimo.eval.retrieval import index_location
    from lavimo.serve.library import LibrarySettings, MotionLibrary

    torch.set_num_threads(max(1, round(args.replica_cpus)))  # as a replica does (lavimo/serve/app.py)
    folder = str(checkpoint.whole_checkpoint(args.checkpoint))
    config = checkpoint.read_config(folder)
    started_ray = False
    if not storage.exists(index_location(folder, config.data.prepared, list(config.data.splits))):
        from lavimo.ray_cluster import connect

        progress("no motion index yet: building it on a local Ray cluster (once; kept beside the checkpoint)")
        connect()
        started_ray = True
    library = MotionLibrary(LibrarySettings(folder))
    if started_ray:
        import ray

        ray.shutdown()  # the services start their own clusters
    text_phase, video_phase = Phase("floor: text", None, 1), Phase("floor: video", None, 1)
    answers = {}

    def run(phase: Phase, queries: list, call: Callable) -> None:
        for query in queries[:3]:
            call(query)  # warm-up, untimed
        phase_start = time.perf_counter()
        for query in queries:
            started = time.perf_counter()
            call(query)
            phase.latencies.append((time.perf_counter() - started) * 1e3)
        phase.wall_s = time.perf_counter() - phase_start

    def text_query(sentence: str) -> None:
        answers[sentence] = [h.motion_id for h in library.search(library.encoder.text(sentence), args.k)]

    progress(f"floor: {len(texts)} text queries in-process, {torch.get_num_threads()} torch thread(s)")
    run(text_phase, texts, text_query)
    if library.has_video:
        progress(f"floor: {len(videos)} video queries in-process")
        run(video_phase, videos, lambda path: library.search(library.encoder.video(path), args.k))
    else:
        video_phase.errors["2-modal checkpoint: no video tower"] = len(videos)
    info = {
        "checkpoint": library.checkpoint,
        "motions": len(library.index),
        "has_video": library.has_video,
        "torch_threads": torch.get_num_threads(),
        "index_built": started_ray,
    }
    return text_phase, video_phase, answers, info  # the library is freed here, before the services start


# ---------------------------------------------------------------------------------------------------- (b) service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """jobs/serve.py as a subprocess with its own local Ray cluster; stop() sends SIGINT and waits."""

    def __init__(self, args: argparse.Namespace, replicas: int, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"serve_{replicas}_replicas.log"
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            str(SERVE_JOB),
            "--checkpoint",
            args.checkpoint,
            "--port",
            str(self.port),
            "--replicas",
            str(replicas),
            "--replica-cpus",
            str(args.replica_cpus),
        ]
        progress(f"starting {' '.join(command[1:])} (log: {self.log})")
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started = time.monotonic()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout_s: float) -> dict:
        """The /healthz answer once the `serving ` line is printed and it answers; RuntimeError if it never does."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jobs/serve.py ended with exit code {self.process.returncode} before serving")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no `serving ` line and /healthz answer after {timeout_s:.0f} s")
            text = self.log.read_text(errors="replace")
            if any(line.startswith("serving ") for line in text.splitlines()):
                try:
                    answer = requests.get(f"{self.url}/healthz", timeout=5)
                    if answer.status_code == 200:
                        return answer.json()
                except (requests.ConnectionError, requests.Timeout):
                    pass  # not listening yet, or no replica ready yet
            time.sleep(1)

    def stop(self, timeout_s: float = 120) -> tuple[int | None, float]:
        """SIGINT (Ctrl+C) to its process group and a wait; SIGKILL after timeout_s. (exit code, seconds)."""
        started = time.monotonic()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                progress(f"jobs/serve.py did not stop within {timeout_s:.0f} s of SIGINT: SIGKILL")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode, time.monotonic() - started


def check_answer(answer: requests.Response, k: int) -> str | None:
    """None for a good answer, else the reason it counts as an error."""
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text[:120]}"
    try:
        results = answer.json()["results"]
    except (ValueError, KeyError, TypeError):
        return "HTTP 200 without a JSON `results` list"
    return None if len(results) == k else f"HTTP 200 with {len(results)} results, not {k}"


def run_clients(
    phase: Phase,
    work: list[list],
    send: Callable[[requests.Session, object], requests.Response],
    k: int,
    keep: dict | None = None,
) -> Phase:
    """One thread per list of `work`, each with its own Session, sending its items one after another; all start
    together. `keep`: item -> top-k ids of its answer."""
    lock = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)

    def client(items: list) -> None:
        with requests.Session() as session:
            barrier.wait()
            for item in items:
                started = time.perf_counter()
                try:
                    answer = send(session, item)
                    elapsed = (time.perf_counter() - started) * 1e3
                    error = check_answer(answer, k)
                except requests.RequestException as exception:
                    elapsed, error = None, f"{type(exception).__name__}: {str(exception)[:120]}"
                with lock:
                    if error is None:
                        phase.latencies.append(elapsed)
                        if keep is not None:
                            keep[item] = [r["motion_id"] for r in answer.json()["results"]]
                    else:
                        phase.errors[error] += 1

    threads = [threading.Thread(target=client, args=(items,), daemon=True) for items in work]
    for thread in threads:
        thread.start()
    barrier.wait()
    phase_start = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.wall_s = time.perf_counter() - phase_start
    return phase


@dataclass
class Setting:
    replicas: int
    phases: list[Phase] = field(default_factory=list)
    failure: str | None = None
    startup_s: float | None = None
    stop: tuple[int | None, float] | None = None
    health: dict | None = None
    agreement: tuple[int, int] | None = None  # sequential queries whose top k equals the floor's, of all


def bench_service(
    args: argparse.Namespace, replicas: int, texts: list[str], videos: list[str], floor_answers: dict, log_dir: Path
) -> Setting:
    setting = Setting(replicas)
    service = ServiceProcess(args, replicas, log_dir)
    try:
        setting.health = service.wait_ready(args.startup_timeout)
        setting.startup_s = time.monotonic() - service.started
        progress(f"{replicas} replica(s) serving at {service.url} after {setting.startup_s:.0f} s: {setting.health}")
        timeout = args.request_timeout
        uploads = {path: Path(path).read_bytes() for path in set(videos)}

        def text(session: requests.Session, sentence: str) -> requests.Response:
            return session.post(f"{service.url}/search/text", json={"text": sentence, "k": args.k}, timeout=timeout)

        def video(session: requests.Session, path: str) -> requests.Response:
            return session.post(
                f"{service.url}/search/video",
                files={"file": (Path(path).name, uploads[path], "video/mp4")},
                data={"k": str(args.k)},
                timeout=timeout,
            )

        # warm-up, untimed: enough concurrent requests to reach every replica
        warm = Phase("warm-up", replicas, 2 * replicas)
        run_clients(warm, [texts[i : i + 3] for i in range(0, 6 * replicas, 3)], text, args.k)
        if setting.health.get("video_queries"):
            run_clients(warm, [[videos[i % len(videos)]] for i in range(2 * replicas)], video, args.k)
        if warm.errors:
            progress(f"warm-up errors: {dict(warm.errors)}")

        sequential = texts[: args.sequential]
        progress(f"{replicas} replica(s): sequential, 1 client x {len(sequential)} text queries")
        answers = {}
        setting.phases.append(
            run_clients(Phase("text, sequential", replicas, 1), [sequential], text, args.k, keep=answers)
        )
        same = sum(answers.get(s) == floor_answers.get(s) for s in set(sequential))
        setting.agreement = (same, len(set(sequential)))

        progress(f"{replicas} replica(s): text load, {args.clients} clients x {args.queries} queries")
        work = [texts[i * args.queries : (i + 1) * args.queries] for i in range(args.clients)]
        setting.phases.append(run_clients(Phase("text, load", replicas, args.clients), work, text, args.k))

        if setting.health.get("video_queries"):
            progress(f"{replicas} replica(s): video load, {args.video_clients} clients x {args.videos} uploads")
            work = [videos[i * args.videos : (i + 1) * args.videos] for i in range(args.video_clients)]
            setting.phases.append(run_clients(Phase("video, load", replicas, args.video_clients), work, video, args.k))
        for phase in setting.phases:
            progress(f"measured: {phase.row()}" + (f" errors: {dict(phase.errors)}" if phase.errors else ""))
    except Exception as error:  # a replica that fails to start, or a client bug: reported, the next setting runs
        setting.failure = f"{type(error).__name__}: {error}"
        progress(
            f"{replicas} replica(s) FAILED: {setting.failure}\n--- last lines of {service.log} ---\n{service.tail()}"
        )
    finally:
        setting.stop = service.stop()
        progress(f"stopped {replicas} replica(s): exit code {setting.stop[0]} after {setting.stop[1]:.0f} s")
    return setting


# ---------------------------------------------------------------------------------------------------- report


def where_the_time_goes(floor_text: Phase, floor_video: Phase, settings: list[Setting]) -> list[str]:
    lines = ["## Where the time goes", ""]
    floor_p50 = floor_text.percentile(50)
    for setting in settings:
        phases = {phase.name: phase for phase in setting.phases}
        if "text, sequential" not in phases:
            continue
        seq = phases["text, sequential"].percentile(50)
        lines.append(
            f"- {setting.replicas} replica(s), text, 1 client: service p50 {seq:.1f} ms = in-process "
            f"floor (model + search) {floor_p50:.1f} ms ({100 * floor_p50 / seq:.0f}%) + HTTP/Serve "
            f"overhead {seq - floor_p50:.1f} ms ({100 * (seq - floor_p50) / seq:.0f}%: client and "
            "server HTTP, the Serve proxy and router, the @serve.batch wait of a lone query "
            "(batch_wait_timeout_s in lavimo/serve/app.py), JSON)."
        )
        if "text, load" in phases:
            load = phases["text, load"]
            lines.append(
                f"- {setting.replicas} replica(s), text, {load.clients} clients: p50 {load.percentile(50):.1f}"
                f" ms, i.e. {load.percentile(50) - seq:+.1f} ms of queueing (and batching) over the "
                f"1-client p50; {load.qps:.1f} queries/s = {load.qps / floor_text.qps:.2f}x the floor's "
                f"sequential {floor_text.qps:.1f} queries/s."
            )
        if "video, load" in phases and floor_video.latencies:
            load = phases["video, load"]
            lines.append(
                f"- {setting.replicas} replica(s), video, {load.clients} clients: p50 "
                f"{load.percentile(50):.1f} ms against the floor's {floor_video.percentile(50):.1f} ms "
                f"(decode + model + search, sequential); {load.qps:.1f} queries/s = "
                f"{load.qps / floor_video.qps:.2f}x the floor's {floor_video.qps:.1f} queries/s."
            )
    measured = [s for s in settings if s.failure is None and s.phases]
    one = next((s for s in measured if s.replicas == 1), None)
    for other in (s for s in measured if s.replicas > 1 and one is not None):
        for name in ("text, load", "video, load"):
            base = next((p for p in one.phases if p.name == name), None)
            more = next((p for p in other.phases if p.name == name), None)
            if base and more:
                lines.append(
                    f"- speedup of {other.replicas} replicas over 1, {name}: {more.qps / base.qps:.2f}x "
                    f"queries/s ({base.qps:.1f} -> {more.qps:.1f}); p50 {base.percentile(50):.1f} -> "
                    f"{more.percentile(50):.1f} ms."
                )
    if not any(line.startswith("- speedup") for line in lines) and len(settings) > 1:
        lines.append("- speedup over 1 replica: not measured (a setting failed or 1 replica was not among them).")
    cores = os.cpu_count()
    lines.append(
        f"- Context: {cores} cores on this machine, shared by the replicas "
        f"({', '.join(str(s.replicas) for s in settings)} x the replica CPUs), the Serve proxy and "
        "controller, and this load generator's client threads; a speedup is bounded by the cores left."
    )
    return lines


def report(
    args: argparse.Namespace,
    floor_text: Phase,
    floor_video: Phase,
    settings: list[Setting],
    info: dict,
    load: tuple[float, float],
    total_s: float,
    log_dir: Path,
) -> str:
    import ray
    import torch

    header = [
        "| phase | replicas | clients | requests | errors | p50 (ms) | p95 (ms) | p99 (ms) | queries/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [floor_text.row()]
    if floor_video.latencies:
        rows.append(floor_video.row())
    notes = []
    for setting in settings:
        rows += [phase.row() for phase in setting.phases]
        if setting.failure:
            rows.append(f"| FAILED: {setting.failure} | {setting.replicas} | | | | | | | |")
    lines = [
        "# Motion search service benchmark",
        "",
        f"Checkpoint: {info['checkpoint']} ({info['motions']} motions in the index; "
        f"{'text and video' if info['has_video'] else 'text only'}). k = {args.k}. "
        f"Each replica: {args.replica_cpus:g} CPU(s). Floor: in-process MotionLibrary, "
        f"{info['torch_threads']} torch thread(s), sequential.",
        "",
        *header,
        *rows,
        "",
    ]
    errors = [(phase, setting.replicas) for setting in settings for phase in setting.phases if phase.errors]
    if errors:
        notes.append("**Errors were seen**:")
        notes += [
            f"- {replicas} replica(s), {phase.name}: "
            + "; ".join(f"{count} x {reason}" for reason, count in phase.errors.most_common(5))
            for phase, replicas in errors
        ]
    else:
        notes.append("Errors: none (every request answered 200 with k results).")
    notes += ["", "Services:"]
    for setting in settings:
        if setting.failure:
            notes.append(
                f"- {setting.replicas} replica(s) **failed**: {setting.failure} "
                f"(log: {log_dir / f'serve_{setting.replicas}_replicas.log'})"
            )
        start = f"ready after {setting.startup_s:.0f} s" if setting.startup_s is not None else "never ready"
        stop = f"exit code {setting.stop[0]} {setting.stop[1]:.0f} s after SIGINT" if setting.stop else "not stopped"
        agree = (
            (
                f"; top {args.k} identical to the floor's for {setting.agreement[0]}/{setting.agreement[1]} "
                "sequential queries"
            )
            if setting.agreement
            else ""
        )
        notes.append(f"- {setting.replicas} replica(s): {start}, {stop}{agree}.")
    lines += [
        *notes,
        "",
        *where_the_time_goes(floor_text, floor_video, settings),
        "",
        f"Workload: {args.clients} x {args.queries} text queries (seeded sentences, seed {args.seed}), "
        f"the first {args.sequential} of them for the 1-client phase, {args.video_clients} x {args.videos} "
        "video uploads (a seeded sample of the manifests' rendered clips); warm-up requests untimed. "
        "Latency: client wall time per request; queries/s: requests / the phase's wall time.",
        f"Load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f}. Run time {total_s / 60:.1f} min. "
        f"Versions: ray {ray.__version__}, torch {torch.__version__}, requests {requests.__version__}. "
        f"Service logs: {log_dir}.",
    ]
    if info.get("index_built"):
        lines.append("The motion index did not exist: this run built it first (not timed).")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    run_start = time.monotonic()
    load_start = os.getloadavg()[0]
    args.checkpoint = str(Path(args.checkpoint).resolve())
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="bench_serve-")).resolve()
    os.chdir(REPO)  # a checkpoint's config names its prepared dataset relative to the repository, as jobs/ run
    log_dir.mkdir(parents=True, exist_ok=True)

    from lavimo import checkpoint
    from lavimo.cli import setup_logging

    setup_logging()
    config = checkpoint.read_config(checkpoint.whole_checkpoint(args.checkpoint))
    texts = sentences(args.clients * args.queries, args.seed)
    if args.sequential > len(texts):
        texts += sentences(args.sequential - len(texts), args.seed + 1)
    videos = clips(config.data.prepared, list(config.data.splits), args.video_clients * args.videos, args.seed)
    progress(
        f"{len(texts)} sentences ({len(set(texts))} distinct), {len(videos)} clips "
        f"({len(set(videos))} distinct) of {config.data.prepared}"
    )
    floor_text, floor_video, answers, info = in_process_floor(args, texts, videos)
    progress(f"measured: {floor_text.row()}")
    progress(f"measured: {floor_video.row()}")
    settings = [bench_service(args, replicas, texts, videos, answers, log_dir) for replicas in args.replica_counts]
    print(
        report(
            args,
            floor_text,
            floor_video,
            settings,
            info,
            (load_start, os.getloadavg()[0]),
            time.monotonic() - run_start,
            log_dir,
        )
    )


if __name__ == "__main__":
    main()
