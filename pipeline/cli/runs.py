"""Reading runs and models back: `mtrec runs`, `show`, `report` and `models`."""

from __future__ import annotations

import argparse
import os

from mtrec.pipeline.cli.common import (add_command, add_pipeline_root_options,
                                       add_serving_options, pipeline_config, quiet_tensorflow,
                                       serving_base)
from mtrec.pipeline.runtime.errors import UserFacingError


def _add_run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default="latest", metavar="RUN",
                        help="run id from `mtrec runs` (default: latest)")


def register(commands: argparse._SubParsersAction) -> None:
    runs = add_command(
        commands, "runs", _runs, "list the runs recorded in ML Metadata",
        "Lists every run of the pipeline root's ML Metadata (local runs): when it ran, how "
        "long it took, how many components ran or came from the cache, the gated top-K "
        "metric, RMSE, the blessing and the pushed version.")

    show = add_command(
        commands, "show", _show,
        "one run in detail: data, settings, components, evaluation, gate, push",
        "Prints a recorded run as `mtrec run` summarised it, with the settings the Trainer "
        "and ExampleGen ran with.")
    _add_run_argument(show)

    report = add_command(
        commands, "report", _report, "write one self-contained HTML page for a run",
        "Writes data statistics (TFDV), training curves, the evaluation table with TFMA "
        "slices, the loss-weight trade-off and example recommendations as one HTML file "
        "(plots inlined; no network needed to view it).")
    _add_run_argument(report)
    report.add_argument("-o", "--output", default="report.html", help="HTML file to write "
                        "(default report.html)")

    for parser in (runs, show, report):
        add_pipeline_root_options(parser)

    models = add_command(
        commands, "models", _models,
        "pushed versions and evaluated models, with metrics and blessing",
        "Lists every model the Evaluator judged (ML Metadata under the pipeline root) and "
        "every version in the serving folder: its gated metrics, whether it was blessed, and "
        "which version is served.")
    models.add_argument("--pipeline-root", help="folder of artifacts and ML Metadata "
                        "(default: pipeline_root of the config)")
    add_serving_options(models)


def _metadata_path(args: argparse.Namespace) -> str:
    """The ML Metadata file of the options' pipeline root; it must exist."""
    path = pipeline_config(args).metadata_path
    if not os.path.exists(path):
        raise UserFacingError(f"no ML Metadata at {path}: no local run has used this pipeline "
                              f"root (pass --pipeline-root or --config)")
    return path


def _run_id(args: argparse.Namespace, metadata_path: str) -> str:
    from mtrec.pipeline.runs.results import list_runs

    runs = list_runs(metadata_path)
    if not runs:
        raise UserFacingError(f"no run recorded in {metadata_path}")
    if args.run == "latest":
        return runs[-1]
    if args.run not in runs:
        raise UserFacingError(f"no run {args.run!r} in {metadata_path}; `mtrec runs` lists them")
    return args.run


def _runs(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.history import print_runs

    quiet_tensorflow(args)
    print_runs(_metadata_path(args))
    return 0


def _show(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.history import print_show

    quiet_tensorflow(args)
    path = _metadata_path(args)
    print_show(path, _run_id(args, path))
    return 0


def _report(args: argparse.Namespace) -> int:
    from mtrec.pipeline.runs.report import write_report

    quiet_tensorflow(args)
    path = _metadata_path(args)
    run_id = _run_id(args, path)
    write_report(path, run_id, args.output)
    print(f"wrote {args.output} (run {run_id})")
    return 0


def _models(args: argparse.Namespace) -> int:
    import logging

    from rich.console import Console

    from mtrec.pipeline.runs.models import list_models, models_table

    config = pipeline_config(args)
    base = serving_base(args, config)
    if not args.debug:  # TFMA's reader logs a deprecation warning per evaluation
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    records = list_models(config.metadata_path, base)
    if not records:
        raise UserFacingError(f"no model evaluated in {config.metadata_path} and none pushed "
                              f"to {base}")
    Console().print(models_table(records, base, config.gate.top_k_metric))  # width: $COLUMNS
    return 0
