"""`mtrec serve` (the HTTP server) and `mtrec rollback` (serve an earlier version)."""

from __future__ import annotations

import argparse
import os

from mtrec.pipeline.cli.common import (add_command, add_serving_options, serving_base,
                                       serving_location)
from mtrec.pipeline.runtime.errors import UserFacingError


def register(commands: argparse._SubParsersAction) -> None:
    serve = add_command(
        commands, "serve", _serve,
        "HTTP server over the latest pushed model (TF Serving REST shape and more)",
        "Serves the newest pushed version over HTTP and switches to newer versions as they "
        "are pushed. Endpoints: docs/serving.md.")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on "
                       "(default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8501, help="port (default 8501, as TF Serving's REST)")
    serve.add_argument("--poll-seconds", type=float, default=5.0,
                       help="how often to look for a newly pushed version (default 5)")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="server processes sharing the port, each on its own core "
                       f"(default: the core count, {os.cpu_count() or 1} here)")
    serve.add_argument("--no-fast-path", dest="fast_path", action="store_false",
                       help="answer /recommend through the SavedModel's signatures, as TF "
                       "Serving does, instead of ScaNN's own searcher outside TensorFlow "
                       "(the same answers; for comparison)")
    serve.add_argument("--access-log", action="store_true",
                       help="log a line per request (off by default: it costs throughput)")
    add_serving_options(serve)

    rollback = add_command(
        commands, "rollback", _rollback, "serve an earlier blessed version again",
        "Publishes a copy of an earlier version as the newest version (copy to a staging "
        "folder, then one rename), so every server that serves the newest version switches "
        "to it. Default: the newest version holding a different model than the one served now.")
    rollback.add_argument("--to", type=int, metavar="VERSION",
                          help="the version to serve again (see `mtrec models`)")
    add_serving_options(rollback)


def _serve(args: argparse.Namespace) -> int:
    import logging

    from mtrec.serving.server import run_server
    from mtrec.serving.workers import check_port_free, run_workers

    if not 1 <= args.port <= 65535:
        raise UserFacingError(f"--port must be in 1..65535, got {args.port}")
    if args.poll_seconds <= 0:
        raise UserFacingError(f"--poll-seconds must be > 0, got {args.poll_seconds}")
    if not 1 <= args.workers <= 256:
        raise UserFacingError(f"--workers must be in 1..256, got {args.workers}")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serving_dir, model_name = serving_location(args)
    options = dict(serving_dir=serving_dir, model_name=model_name, host=args.host,
                   port=args.port, poll_seconds=args.poll_seconds, fast_path=args.fast_path,
                   access_log=args.access_log)
    check_port_free(args.host, args.port)
    if args.workers == 1:
        run_server(**options)
    else:
        run_workers(args.workers, options)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from mtrec.serving.versions import rollback

    base = serving_base(args)
    previous, copied, path = rollback(base, args.to)
    print(f"serving version {copied} again, as version {os.path.basename(path)} "
          f"(was serving {previous}): {path}")
    return 0
