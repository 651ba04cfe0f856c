"""Serve motion search over HTTP with Ray Serve: a JSON API, its OpenAPI page at /docs, and a web page at /."""

from __future__ import annotations

import argparse
import signal
import threading

from ray import serve

from lavimo import checkpoint
from lavimo.cli import add_checkpoint_source, checkpoint_source, setup_logging
from lavimo.eval.retrieval import load_or_build_index
from lavimo.ray_cluster import connect
from lavimo.serve.app import DEFAULT_MAX_UPLOAD_MB, build_app

APP_NAME = "lavimo"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_checkpoint_source(parser)
    parser.add_argument("--prepared", help="prepared dataset to search (default: the checkpoint's)")
    parser.add_argument("--split", action="append", default=[], help="split(s) to serve (default: all)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 for every interface)",
    )
    parser.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas of the model (default: %(default)s)")
    parser.add_argument("--max-replicas", type=int, help="autoscale between --replicas and this many")
    parser.add_argument("--replica-cpus", type=float, default=1.0, help="CPUs per replica (default: %(default)s)")
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help="largest video upload accepted (default: %(default)s MB)",
    )
    args = parser.parse_args(argv)
    setup_logging()
    connect(min_local_cpus=args.replicas * args.replica_cpus)
    folder = str(checkpoint.whole_checkpoint(checkpoint_source(args)))
    config = checkpoint.read_config(folder)
    # built here, before any replica holds a CPU, so that the embedding tasks can run; replicas then load it
    load_or_build_index(
        folder,
        args.prepared or config.data.prepared,
        list(args.split or config.data.splits),
        workers=1,
        cpus_per_worker=config.train.decode_cpus,
    )
    application = build_app(
        {
            "checkpoint": folder,
            "prepared": args.prepared,
            "splits": args.split,
            "max_upload_mb": args.max_upload_mb,
            "num_replicas": args.replicas,
            "max_replicas": args.max_replicas or args.replicas,
            "replica_cpus": args.replica_cpus,
        }
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl+C does
    try:
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(application, name=APP_NAME, route_prefix="/", blocking=False)
        print(f"serving {folder} at http://{args.host}:{args.port}/ (API docs at /docs); Ctrl+C stops it", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop()
    print("stopped", flush=True)


def _stop() -> None:
    """Deletes this application; stops Serve itself only when no other application is left on the cluster."""
    serve.delete(APP_NAME)
    if not serve.status().applications:
        serve.shutdown()


if __name__ == "__main__":
    main()
