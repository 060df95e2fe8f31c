"""The `mtrec` commands that read back runs and manage the config file.

  mtrec runs                  every run in ML Metadata: when, how long, metric, blessing, push
  mtrec show [RUN]            one run: data, settings, components, evaluation, gate, push
  mtrec report [RUN] -o FILE  one self-contained HTML page for a run (pipeline/report.py)
  mtrec init [FILE]           write a documented default config (mtrec.toml)
  mtrec config show           print the effective config (file + options)

Kept apart from cli.py so that its parser and handlers stay small; cli.py
registers these with `add_commands` and dispatches through `COMMANDS`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Callable, Dict

from mtrec.pipeline.errors import UserFacingError


class HistoryError(UserFacingError):
    """No ML Metadata, or no such run."""


def _pipeline_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (its pipeline_root is read)")
    parser.add_argument("--pipeline-root", help="folder with metadata.sqlite "
                        "(default: pipeline_root of the config)")


def add_commands(commands) -> None:
    """Adds runs, show, report, init and config to the `mtrec` subparsers."""
    runs = commands.add_parser(
        "runs", help="list the runs recorded in ML Metadata",
        description="Lists every run of the pipeline root's ML Metadata (local runs): when it "
                    "ran, how long it took, how many components ran or came from the cache, "
                    "the gated top-K metric, RMSE, the blessing and the pushed version.")
    _pipeline_args(runs)

    show = commands.add_parser(
        "show", help="one run in detail: data, settings, components, evaluation, gate, push",
        description="Prints a recorded run as `mtrec run` summarised it, with the settings "
                    "the Trainer and ExampleGen ran with.")
    show.add_argument("run", nargs="?", default="latest", metavar="RUN",
                      help="run id from `mtrec runs` (default: latest)")
    _pipeline_args(show)

    report = commands.add_parser(
        "report", help="write one self-contained HTML page for a run",
        description="Writes data statistics (TFDV), training curves, the evaluation table "
                    "with TFMA slices, the loss-weight trade-off and example recommendations "
                    "as one HTML file (plots inlined; no network needed to view it).")
    report.add_argument("run", nargs="?", default="latest", metavar="RUN",
                        help="run id from `mtrec runs` (default: latest)")
    report.add_argument("-o", "--output", default="report.html", help="HTML file to write "
                        "(default report.html)")
    _pipeline_args(report)

    init = commands.add_parser(
        "init", help="write a documented default config file",
        description="Writes every setting with its default and a comment; edit it and pass it "
                    "as `mtrec run --config FILE`. Refuses to overwrite an existing file.")
    init.add_argument("path", nargs="?", default="mtrec.toml", metavar="FILE",
                      help="file to write (default mtrec.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    config = commands.add_parser("config", help="inspect the configuration",
                                 description="Configuration commands.")
    config_commands = config.add_subparsers(dest="config_command", required=True,
                                            metavar="SUBCOMMAND")
    config_show = config_commands.add_parser(
        "show", help="print the effective config as TOML",
        description="Prints the config a `mtrec run` with the same --config and options would "
                    "use: defaults, then the file, then the options.")
    config_show.add_argument("--config", help="TOML config file")
    config_show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                             help="any config value (repeatable), as for `mtrec run`")


def _metadata_path(args: argparse.Namespace) -> str:
    from mtrec.pipeline.config import load_config

    config = load_config(args.config)
    root = args.pipeline_root or config.pipeline_root
    path = os.path.join(root, "metadata.sqlite")
    if not os.path.exists(path):
        raise HistoryError(f"no ML Metadata at {path}: no local run has used this pipeline "
                           f"root (pass --pipeline-root or --config)")
    return path


def _run_id(args: argparse.Namespace, metadata_path: str) -> str:
    from mtrec.pipeline.results import list_runs

    runs = list_runs(metadata_path)
    if not runs:
        raise HistoryError(f"no run recorded in {metadata_path}")
    if args.run == "latest":
        return runs[-1]
    if args.run not in runs:
        raise HistoryError(f"no run {args.run!r} in {metadata_path}; `mtrec runs` lists them")
    return args.run


def _quiet(args: argparse.Namespace) -> None:
    """TensorFlow and TFMA log deprecation notes on import and read; show them with --debug."""
    import logging

    if not args.debug:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)


def _runs(args: argparse.Namespace) -> int:
    from mtrec.pipeline.history import print_runs

    _quiet(args)
    print_runs(_metadata_path(args))
    return 0


def _show(args: argparse.Namespace) -> int:
    from mtrec.pipeline.history import print_show

    _quiet(args)
    path = _metadata_path(args)
    print_show(path, _run_id(args, path))
    return 0


def _report(args: argparse.Namespace) -> int:
    from mtrec.pipeline.report import write_report

    _quiet(args)
    path = _metadata_path(args)
    run_id = _run_id(args, path)
    write_report(path, run_id, args.output)
    print(f"wrote {args.output} (run {run_id})")
    return 0


def _init(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config_file import template

    if os.path.exists(args.path) and not args.force:
        raise UserFacingError(f"{args.path} already exists (--force overwrites it)")
    with open(args.path, "w", encoding="utf-8") as handle:
        handle.write(template())
    print(f"wrote {args.path}; edit it, then: mtrec run --config {args.path}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from mtrec.pipeline.cli import _parse_set
    from mtrec.pipeline.config import load_config
    from mtrec.pipeline.config_file import dump

    sys.stdout.write(dump(load_config(args.config, _parse_set(args.set))))
    return 0


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "runs": _runs, "show": _show, "report": _report, "init": _init, "config": _config}


def format_time(unix_seconds: float) -> str:
    return datetime.datetime.fromtimestamp(unix_seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S")
