"""`mtrec serve --workers N`: N server processes sharing one port.

One Python process answers on one core at a time (its interpreter lock), so
the server runs as N processes, each a whole server (serving/server.py)
bound to the same host and port with SO_REUSEPORT: the kernel spreads
connections across them. Each worker watches the serving folder itself, so
a newly pushed version reaches every worker within a poll, and each swaps
it in as one server does (requests in flight finish on their version).

The parent only supervises: it checks the port is free, spawns the workers
(spawned, not forked: TensorFlow's threads do not survive a fork), caps each
worker's TensorFlow threads to its share of the cores, restarts a worker
that dies after it started listening, and stops every worker on SIGINT or
SIGTERM. A worker that dies before it listens stops the whole server with
its exit code: that is a configuration error, and restarting would repeat it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.connection import wait
from typing import Dict, Optional

from mtrec.pipeline.runtime.errors import UserFacingError

log = logging.getLogger("mtrec.serve")

STOP_TIMEOUT_S = 30  # a worker still running this long after SIGTERM is killed


class WorkerStartError(UserFacingError, RuntimeError):
    """A worker exited before it started listening."""


def check_port_free(host: str, port: int) -> None:
    """Raises UserFacingError if something already listens on (host, port).

    Bound without SO_REUSEPORT, so another server's reuse-port workers count
    as taken too: two servers must not silently share a port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UserFacingError(f"cannot listen on {host}:{port}: {error.strerror}; "
                                  f"is another server running there? (--port)") from None


def _worker(options: Dict, tf_threads: int, ready, log_level: int) -> None:
    """One worker process: a server on the shared port."""
    logging.basicConfig(level=log_level, format=f"%(asctime)s worker {os.getpid()} "
                        "%(name)s %(levelname)s %(message)s")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(tf_threads)
    tf.config.threading.set_inter_op_parallelism_threads(tf_threads)
    from mtrec.serving.server import run_server

    run_server(**options, reuse_port=True, on_listening=lambda message: ready.set())


def run_workers(count: int, options: Dict) -> None:
    """Runs `count` workers of `run_server(**options)` until SIGINT or SIGTERM
    (the caller has checked the port is free: `check_port_free`)."""
    host, port = options["host"], options["port"]
    context = multiprocessing.get_context("spawn")
    tf_threads = max(1, (os.cpu_count() or 1) // count)
    level = logging.getLogger().getEffectiveLevel()
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    workers: Dict[int, tuple] = {}  # slot -> (process, ready event)

    def start(slot: int) -> None:
        ready = context.Event()
        process = context.Process(target=_worker, args=(options, tf_threads, ready, level),
                                  name=f"mtrec-serve-{slot}", daemon=False)
        process.start()
        workers[slot] = (process, ready)

    announced = False
    try:
        for slot in range(count):
            start(slot)
        while not stopping:
            wait([process.sentinel for process, _ in workers.values()], timeout=0.5)
            for slot, (process, ready) in list(workers.items()):
                if process.is_alive() or stopping:
                    continue
                if not ready.is_set():
                    raise WorkerStartError(
                        f"serving worker {slot} (pid {process.pid}) exited with code "
                        f"{process.exitcode} before it listened on {host}:{port}; its log is above")
                log.error("worker %d (pid %d) exited with code %s; starting a new one",
                          slot, process.pid, process.exitcode)
                start(slot)
            if not announced and all(ready.is_set() for _, ready in workers.values()):
                announced = True
                pids = ", ".join(str(process.pid) for process, _ in workers.values())
                print(f"======== Running on http://{host}:{port} with {count} workers "
                      f"(pids {pids}) ========\n(Press CTRL+C to quit)", flush=True)
    finally:
        _stop_all([process for process, _ in workers.values()])
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_all(processes) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker's server shuts down cleanly
    deadline: Optional[float] = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.error("worker pid %d did not stop in %d s; killing it", process.pid,
                      STOP_TIMEOUT_S)
            process.kill()
            process.join()
