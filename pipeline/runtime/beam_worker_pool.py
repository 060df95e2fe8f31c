"""An external Python SDK worker pool that several Flink TaskManagers can share.

`python -m mtrec.pipeline.runtime.beam_worker_pool --service_port=50000`
stands in for Beam 2.59's `apache_beam.runners.worker.worker_pool_main`, which
fails on a cluster of more than one TaskManager:

- it keys workers by the runner's worker id, and every TaskManager JVM hands
  out the same ids ("1-1", "2-1", ...), so one TaskManager's StopWorker kills
  another's live worker, and that TaskManager then waits for it forever;
- it starts workers with whatever `python` is first on PATH, not this
  interpreter, so they may lack Beam and TensorFlow.

Here each worker runs on this interpreter, and StopWorker is a no-op: a worker
exits by itself when the runner closes its control channel. Exited workers are
reaped on each request; live ones are ended when the pool exits.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import List

import grpc
from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc
from apache_beam.utils import thread_pool_executor

import mtrec.pipeline.runtime  # noqa: F401  (Keras 2 before TensorFlow loads, inherited by workers)

log = logging.getLogger("mtrec.beam_worker_pool")

_HARNESS = ("import mtrec.pipeline.runtime; "
            "from apache_beam.runners.worker.sdk_worker import SdkHarness; "
            "SdkHarness({url!r}, worker_id={worker_id!r}).run()")


class WorkerPool(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """Starts one SDK harness process per StartWorker request."""

    def __init__(self) -> None:
        self._workers: List[subprocess.Popen] = []
        self._lock = threading.Lock()

    def _reap(self) -> None:
        with self._lock:
            self._workers = [w for w in self._workers if w.poll() is None]

    def StartWorker(self, request, context):
        self._reap()
        code = _HARNESS.format(url=request.control_endpoint.url, worker_id=request.worker_id)
        worker = subprocess.Popen([sys.executable, "-c", code], close_fds=True)
        with self._lock:
            self._workers.append(worker)
        log.info("worker %s started (pid %d)", request.worker_id, worker.pid)
        return beam_fn_api_pb2.StartWorkerResponse()

    def StopWorker(self, request, context):
        self._reap()  # the worker ends itself when its control channel closes
        return beam_fn_api_pb2.StopWorkerResponse()

    def stop_all(self) -> None:
        with self._lock:
            live = [w for w in self._workers if w.poll() is None]
        for worker in live:
            worker.terminate()
        for worker in live:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service_port", type=int, default=50000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = grpc.server(thread_pool_executor.shared_unbounded_instance(),
                         options=[("grpc.http2.max_pings_without_data", 0),
                                  ("grpc.http2.max_ping_strikes", 0)])
    port = server.add_insecure_port(f"localhost:{args.service_port}")
    pool = WorkerPool()
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    server.start()
    atexit.register(pool.stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("worker pool listening on localhost:%d", port)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop(0)


if __name__ == "__main__":
    main()
