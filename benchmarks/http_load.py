"""`mtrec bench serving`, part 2: `mtrec serve` under load from wrk.

The server runs as `mtrec serve` in its own processes on a loopback port,
over a private copy of the model (the version-switch run publishes into it);
wrk (Debian's `wrk`, with benchmarks/wrk/recommend.lua) sends
`POST /recommend`, one user and k = 10 per request, cycling through the
model's users. wrk shares the machine's cores with the server.

  closed loop   each connection sends as soon as its last answer came:
                throughput and latency at 1, 50 and 200 connections
  open loop     requests due at a fixed rate, latency counted from each
                request's intended start (no coordinated omission)
  switch        a new version is published during a 50-connection run;
                every failed request counts

Memory is each worker process's resident set after its runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from mtrec.pipeline.runtime.errors import UserFacingError

WRK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk", "recommend.lua")
RESULT_PREFIX = "MTREC_WRK_JSON "
SWITCH_PATIENCE_S = 60.0  # how long the switch run waits for every worker to serve the new version


@dataclasses.dataclass
class LoadResult:
    """One wrk run."""

    label: str
    connections: int
    target_rate: Optional[float]  # requests/s for an open-loop run; None: closed loop
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise UserFacingError("wrk, the HTTP load generator, is not installed: "
                              "sudo apt-get install wrk (Debian, Ubuntu), or pass --no-http")
    return path


def run_wrk(base: str, users_file: str, connections: int, seconds: float, label: str,
            rate: Optional[float] = None, k: int = 10) -> LoadResult:
    """One wrk run of `seconds` against `base`; `rate`: total requests per
    second, spread evenly over the connections (open loop), or None (closed)."""
    threads = connections if rate else min(connections, os.cpu_count() or 1)
    env = {**os.environ, "MTREC_WRK_USERS": users_file, "MTREC_WRK_K": str(k)}
    if rate:
        env["MTREC_WRK_RATE"] = repr(rate / connections)
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s",
               "--timeout", "10s", "-s", WRK_SCRIPT, base]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    errors = sum(result["errors"].values())
    if rate:  # latency from each request's intended start
        latencies = np.asarray(result["intended_latencies_us"], float) / 1000
        errors += result["missing"]
        p50, p99, worst = (np.percentile(latencies, [50, 99]).tolist() + [latencies.max()]
                           if len(latencies) else [float("nan")] * 3)
    else:
        p50, p99, worst = result["p50_us"] / 1000, result["p99_us"] / 1000, result["max_us"] / 1000
    return LoadResult(label, connections, rate, result["requests"], result["duration_us"] / 1e6,
                      errors, p50, p99, worst)


def _readyz(base: str) -> tuple[str, dict]:
    """(the answering worker's pid, its /readyz body), over a new connection."""
    from mtrec.serving.server import WORKER_HEADER

    with urllib.request.urlopen(base + "/readyz", timeout=10) as response:
        return response.headers[WORKER_HEADER], json.loads(response.read())


class ServerProcess:
    """`mtrec serve` over `serving_dir`, started and stopped by the benchmark."""

    def __init__(self, serving_dir: str, model_name: str, workers: int, fast_path: bool):
        import portpicker
        import psutil

        self.port = portpicker.pick_unused_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        mtrec = os.path.join(os.path.dirname(sys.executable), "mtrec")
        command = [mtrec, "serve", "--port", str(self.port), "--serving-dir", serving_dir,
                   "--model-name", model_name, "--workers", str(workers), "--poll-seconds", "0.5"]
        if not fast_path:
            command.append("--no-fast-path")
        self.log = tempfile.NamedTemporaryFile("w+", prefix="mtrec-serve-", suffix=".log")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self._psutil = psutil
        try:
            self._wait_until_ready(fast_path)
        except BaseException:  # a server that never became ready must not outlive the run
            self.close()
            raise
        time.sleep(2.0)  # the other workers finish loading too

    def _wait_until_ready(self, fast_path: bool) -> None:
        deadline = time.monotonic() + 600
        while True:
            try:
                _, ready = _readyz(self.base)
                if ready["fast_path"] != fast_path:
                    raise RuntimeError(f"the server's fast path is {ready['fast_path']}, "
                                       f"asked for {fast_path}")
                if len(self.worker_pids()) == self.workers:
                    return
            except (OSError, KeyError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"mtrec serve did not become ready:\n{self.log.read()[-3000:]}")
            time.sleep(0.5)

    def worker_pids(self) -> List[int]:
        """The processes that answered /readyz over 40 new connections."""
        return sorted(int(pid) for pid in self.versions_served())

    def worker_memory_mib(self) -> List[float]:
        return [self._psutil.Process(pid).memory_info().rss / 2**20 for pid in self.worker_pids()]

    def versions_served(self, tries: int = 40) -> Dict[str, int]:
        """worker pid -> version, from `tries` new connections."""
        seen = {}
        for _ in range(tries):
            pid, ready = _readyz(self.base)
            seen[pid] = ready["version"]
        return seen

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


@contextlib.contextmanager
def served(serving_dir: str, model_name: str, workers: int, fast_path: bool) -> Iterator[ServerProcess]:
    server = ServerProcess(serving_dir, model_name, workers, fast_path)
    try:
        yield server
    finally:
        server.close()


def users_file(user_ids: Sequence[str], folder: str, seed: int = 0) -> str:
    """The users wrk cycles through, in a seeded random order."""
    order = np.random.default_rng(seed).permutation(len(user_ids))
    path = os.path.join(folder, "users.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(user_ids[i] + "\n" for i in order)
    return path


def private_copy(version_dir: str, folder: str, model_name: str) -> str:
    """A serving folder holding a copy of one pushed version; returns the folder."""
    serving = os.path.join(folder, "serving")
    shutil.copytree(version_dir, os.path.join(serving, model_name, "1"))
    return serving


def switch_during_load(server: ServerProcess, serving_dir: str, model_name: str,
                       users: str, seconds: float,
                       patience: float = SWITCH_PATIENCE_S) -> tuple[LoadResult, Optional[float]]:
    """A 50-connection closed-loop run during which a new version is published
    (after a third of it); returns the run and the seconds from publishing
    until every worker answered with the new version (None: not within
    `patience` seconds)."""
    from mtrec.serving.versions import publish, published_versions

    base = os.path.join(serving_dir, model_name)
    newest = os.path.join(base, str(published_versions(base)[-1]))
    retrained = os.path.join(os.path.dirname(serving_dir), "retrained")
    shutil.copytree(newest, retrained)  # the same files, published as a new version
    switched: List[Optional[float]] = [None]

    def publish_then_wait():
        time.sleep(seconds / 3)
        version = int(os.path.basename(publish(retrained, base)))
        start = time.monotonic()
        while time.monotonic() - start < patience:
            served = server.versions_served(tries=4 * server.workers)
            if len(served) == server.workers and set(served.values()) == {version}:
                switched[0] = time.monotonic() - start
                return
            time.sleep(0.25)

    thread = threading.Thread(target=publish_then_wait)
    thread.start()
    result = run_wrk(server.base, users, 50, seconds, "version switch during the run")
    thread.join()
    return result, switched[0]
