"""A standalone Flink cluster on this machine: a JobManager, N TaskManagers and
the Python SDK worker pool, each its own process, as on a multi-host cluster.

`start` writes the cluster's configuration into the Flink distribution
(flink_setup.py installs it), starts the processes with Flink's own
`jobmanager.sh` / `taskmanager.sh`, and waits until the REST API reports
every TaskManager. `stop` ends them all; `status` asks the REST API.
Everything listens on localhost only. Logs go to `<cache>/cluster/`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, Iterator, List, Optional

from mtrec.pipeline.runners.flink_setup import flink_home
from mtrec.pipeline.runtime.errors import UserFacingError

_START_TIMEOUT_S = 180


class FlinkClusterError(UserFacingError):
    """The cluster did not come up, or is not there."""


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """What to start: sizes and ports (every process binds to localhost)."""

    cache_dir: pathlib.Path
    task_managers: int = 2
    rest_port: int = 8081
    worker_pool_port: int = 50000
    task_manager_memory: str = "4096m"
    job_manager_memory: str = "1024m"

    @property
    def run_dir(self) -> pathlib.Path:
        return self.cache_dir / "cluster"

    @property
    def master(self) -> str:
        return f"localhost:{self.rest_port}"


def _settings(spec: ClusterSpec) -> Dict[str, str]:
    """flink-conf.yaml keys set here; everything else keeps Flink's defaults."""
    return {
        "jobmanager.rpc.address": "localhost",
        "jobmanager.bind-host": "localhost",
        "jobmanager.memory.process.size": spec.job_manager_memory,
        "taskmanager.bind-host": "localhost",
        "taskmanager.host": "localhost",
        "taskmanager.memory.process.size": spec.task_manager_memory,
        "taskmanager.numberOfTaskSlots": "1",
        "parallelism.default": str(spec.task_managers),
        "rest.port": str(spec.rest_port),
        "rest.address": "localhost",
        "rest.bind-address": "localhost",
        "io.tmp.dirs": str(spec.run_dir / "tmp"),
        "env.pid.dir": str(spec.run_dir),  # Flink's scripts find their daemons by these
        # Each blocking shuffle reserves 512 network buffers by default, more than
        # a TaskManager's default network memory holds; TFX's StatisticsGen failed
        # for want of them.
        "taskmanager.memory.network.min": "256m",
        "taskmanager.memory.network.max": "256m",
        "taskmanager.network.sort-shuffle.min-buffers": "128",
        # Beam moves data to and from its Python workers over gRPC, in direct
        # (off-heap) buffers; on the default 0 MiB of task off-heap memory,
        # Transform on 1M ratings failed with "OutOfMemoryError: Direct buffer memory".
        "taskmanager.memory.task.off-heap.size": "512m",
        "taskmanager.memory.framework.off-heap.size": "256m",
        # Beam's operators and its gRPC data plane live on the task heap, which
        # Flink's defaults left at about 350 MiB of a 3 GiB TaskManager (40% went
        # to managed memory): ExampleGen on 10M ratings ran out of heap. Batch
        # sorts still get a quarter of Flink's memory, and spill beyond it.
        "taskmanager.memory.managed.fraction": "0.25",
        # An uncaught error (that OutOfMemoryError, in a gRPC thread) otherwise
        # leaves the job hanging with idle workers; failing the process fails
        # the job, and the run with it.
        "cluster.uncaught-exception-handling": "FAIL",
        "akka.ask.timeout": "60 s",
        "heartbeat.timeout": "120000",
    }


def write_configuration(spec: ClusterSpec) -> pathlib.Path:
    """Flink's default conf/flink-conf.yaml with this cluster's keys set; returns its path."""
    conf = flink_home(spec.cache_dir) / "conf"
    default = conf / "flink-conf.default.yaml"
    if not default.exists():  # keep Flink's own file once, to rewrite from
        (conf / "flink-conf.yaml").rename(default)
    ours = _settings(spec)
    kept = [line for line in default.read_text().splitlines()
            if line.split(":", 1)[0].strip() not in ours]
    path = conf / "flink-conf.yaml"
    path.write_text("\n".join(kept + [f"{key}: {value}" for key, value in ours.items()]) + "\n")
    (conf / "workers").write_text("localhost\n" * spec.task_managers)
    return path


def overview(spec: ClusterSpec) -> Optional[dict]:
    """The REST API's /overview, or None when no JobManager answers."""
    try:
        with urllib.request.urlopen(f"http://{spec.master}/overview", timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("localhost", port)) == 0


def _environment(spec: ClusterSpec) -> Dict[str, str]:
    env = dict(os.environ, FLINK_HOME=str(flink_home(spec.cache_dir)),
               FLINK_LOG_DIR=str(spec.run_dir / "log"))
    env.setdefault("JAVA_HOME", str(pathlib.Path(os.path.realpath(_which("java"))).parent.parent))
    return env


def _which(program: str) -> str:
    import shutil

    found = shutil.which(program)
    if found is None:
        raise FlinkClusterError(f"{program} not found: Flink needs Java 17 "
                                "(Debian: apt-get install openjdk-17-jre-headless)")
    return found


def _flink_script(spec: ClusterSpec, name: str, *args: str) -> None:
    script = flink_home(spec.cache_dir) / "bin" / name
    finished = subprocess.run([str(script), *args], env=_environment(spec),
                              capture_output=True, text=True)
    if finished.returncode != 0:
        raise FlinkClusterError(f"{script} {' '.join(args)} failed: "
                                f"{finished.stdout[-2000:]}{finished.stderr[-2000:]}")


def _worker_pool_pid(spec: ClusterSpec) -> pathlib.Path:
    return spec.run_dir / "worker_pool.pid"


def start(spec: ClusterSpec) -> dict:
    """Starts the cluster and the worker pool; returns the REST overview.

    Refuses when a JobManager already answers on the REST port."""
    if not (flink_home(spec.cache_dir) / "bin" / "jobmanager.sh").exists():
        raise FlinkClusterError(f"no Flink distribution in {spec.cache_dir}: run "
                                "`mtrec flink setup` first")
    if overview(spec) is not None:
        raise FlinkClusterError(f"a Flink JobManager already answers on {spec.master} "
                                "(`mtrec flink status`; `mtrec flink stop` ends one started here)")
    (spec.run_dir / "log").mkdir(parents=True, exist_ok=True)
    (spec.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
    write_configuration(spec)
    _flink_script(spec, "jobmanager.sh", "start")
    for _ in range(spec.task_managers):
        _flink_script(spec, "taskmanager.sh", "start")
    if not _port_open(spec.worker_pool_port):
        with (spec.run_dir / "log" / "worker_pool.log").open("ab") as log:  # the pool keeps its copy
            pool = subprocess.Popen(
                [sys.executable, "-m", "mtrec.pipeline.runtime.beam_worker_pool",
                 f"--service_port={spec.worker_pool_port}"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _worker_pool_pid(spec).write_text(str(pool.pid))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        status = overview(spec)
        if (status and status.get("taskmanagers") == spec.task_managers
                and _port_open(spec.worker_pool_port)):
            return status
        time.sleep(1)
    stop(spec)
    raise FlinkClusterError(f"the cluster did not report {spec.task_managers} TaskManagers and "
                            f"a worker pool within {_START_TIMEOUT_S} s; logs: {spec.run_dir / 'log'}")


def stop(spec: ClusterSpec) -> None:
    """Stops the TaskManagers, the JobManager and the worker pool started here."""
    home = flink_home(spec.cache_dir)
    if (home / "bin" / "taskmanager.sh").exists():
        _flink_script(spec, "taskmanager.sh", "stop-all")
        _flink_script(spec, "jobmanager.sh", "stop-all")
    pid_file = _worker_pool_pid(spec)
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass  # already gone
        pid_file.unlink()


def daemon_pids(spec: ClusterSpec) -> List[int]:
    """The processes of a cluster started here: the JobManager and TaskManagers
    (which Flink's scripts detach, recording them in env.pid.dir) and the
    worker pool. For measuring them; empty when none runs."""
    pids = []
    for pid_file in sorted(spec.run_dir.glob("*.pid")):
        pids += [int(line) for line in pid_file.read_text().split() if line.isdigit()]
    return pids


def spec_for(flink) -> ClusterSpec:
    """The ClusterSpec a config's [flink] section describes (its master on localhost)."""
    return ClusterSpec(cache_dir=flink.cache_path(), task_managers=flink.task_managers,
                       rest_port=int(flink.master.rsplit(":", 1)[1]),
                       worker_pool_port=int(flink.worker_pool.rsplit(":", 1)[1]))


def on_this_machine(address: str) -> bool:
    return address.rsplit(":", 1)[0] in ("localhost", "127.0.0.1")


@contextlib.contextmanager
def cluster_for_run(flink, progress: Callable[[str], None] = print) -> Iterator[None]:
    """Around a run on Flink: checks the setup, and starts a local cluster when
    `flink.start_cluster` is on, the master is on this machine and nothing answers
    there; a cluster started here is stopped when the run ends, however it ends."""
    from mtrec.pipeline.runners.flink_setup import job_server_jar

    jar = pathlib.Path(flink.job_server_jar or job_server_jar(flink.cache_path()))
    if not jar.is_file():
        raise FlinkClusterError(f"{jar}: no Flink job server jar; `mtrec flink setup` builds it "
                                "(or set flink.job_server_jar)")
    started = None
    if flink.master != "[local]" and on_this_machine(flink.master) and flink.start_cluster:
        spec = spec_for(flink)
        if overview(spec) is None:
            progress(f"starting a Flink cluster on {spec.master} ({spec.task_managers} "
                     f"TaskManagers, worker pool on {flink.worker_pool})")
            start(spec)
            started = spec
    try:
        yield
    finally:
        if started is not None:
            stop(started)
            progress("stopped the Flink cluster started for the run")
