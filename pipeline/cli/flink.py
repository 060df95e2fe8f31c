"""`mtrec flink setup | start | stop | status`: the Flink runner's distribution,
job server and a standalone cluster on this machine (pipeline/runners/flink_*.py)."""

from __future__ import annotations

import argparse
import json

from mtrec.pipeline.cli.common import add_command
from mtrec.pipeline.runtime.errors import UserFacingError


def register(commands: argparse._SubParsersAction) -> None:
    flink = commands.add_parser(
        "flink", help="set up, start, stop or inspect a Flink cluster for the Beam steps",
        description="The FlinkRunner (beam_runner = \"flink\"): a Flink 1.18.1 distribution "
                    "and Beam's job server in flink.cache_dir, and a standalone cluster of a "
                    "JobManager, flink.task_managers TaskManagers and a Python worker pool, "
                    "each its own process on this machine (docs/orchestrators.md).")
    actions = flink.add_subparsers(dest="flink_command", required=True, metavar="ACTION")
    setup = add_command(actions, "setup", _setup,
                        "download Flink from PyPI and build the job server with Maven",
                        "Downloads Flink 1.18.1 (the apache-flink wheel and "
                        "apache-flink-libraries, checked by sha256) into flink.cache_dir and "
                        "builds Beam 2.59's Flink job server jar with Maven "
                        "(pipeline/runners/flink_jobserver/pom.xml). Steps already done are "
                        "skipped.")
    start = add_command(actions, "start", _start, "start a standalone cluster on this machine",
                        "Starts a JobManager, flink.task_managers TaskManagers and the Python "
                        "worker pool on localhost, and waits until every TaskManager has "
                        "registered.")
    stop = add_command(actions, "stop", _stop, "stop the cluster `mtrec flink start` started")
    status = add_command(actions, "status", _status,
                         "what the cluster at flink.master reports (TaskManagers, slots, jobs)")
    for parser in (setup, start, stop, status):
        parser.add_argument("--config", help="TOML config file (its [flink] section is used)")


def _flink(args: argparse.Namespace):
    from mtrec.pipeline.config import load_config

    return load_config(args.config).flink


def _local_spec(args: argparse.Namespace):
    from mtrec.pipeline.runners import flink_cluster

    flink = _flink(args)
    if flink.master == "[local]" or not flink_cluster.on_this_machine(flink.master):
        raise UserFacingError(f"flink.master is {flink.master}: start and stop manage a cluster "
                              "on this machine (localhost:PORT) only")
    return flink_cluster.spec_for(flink)


def _setup(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runners import flink_setup

    cache = _flink(args).cache_path()
    flink_setup.install(cache, progress=lambda line: print(line, flush=True))
    print(f"Flink {flink_setup.FLINK_VERSION} in {flink_setup.flink_home(cache)}; job server "
          f"{flink_setup.job_server_jar(cache)}")
    return 0


def _start(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runners import flink_cluster

    spec = _local_spec(args)
    status = flink_cluster.start(spec)
    print(f"Flink cluster on {spec.master}: {status['taskmanagers']} TaskManagers, "
          f"{status['slots-total']} slots; worker pool on localhost:{spec.worker_pool_port}; "
          f"logs in {spec.run_dir / 'log'}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runners import flink_cluster

    spec = _local_spec(args)
    flink_cluster.stop(spec)
    print(f"stopped the Flink cluster on {spec.master}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runners import flink_cluster

    flink = _flink(args)
    spec = flink_cluster.spec_for(flink) if flink.master != "[local]" else None
    status = flink_cluster.overview(spec) if spec else None
    if status is None:
        raise UserFacingError(f"no Flink JobManager answers on {flink.master}")
    print(json.dumps(status, indent=2))
    return 0
