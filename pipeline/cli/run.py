"""`mtrec run` (the whole pipeline, locally) and `mtrec compile kubeflow`."""

from __future__ import annotations

import argparse
import time

from mtrec.pipeline.cli.common import EXIT_NOT_BLESSED, add_command, add_set_option, parse_set
from mtrec.pipeline.config import OBJECTIVES
from mtrec.pipeline.runtime.errors import UserFacingError

# `mtrec run` options and the config keys they set.
_RUN_FLAGS = (("data_dir", "data.ratings_dir"), ("items_file", "data.items_file"),
              ("pipeline_root", "pipeline_root"), ("serving_dir", "serving.serving_dir"),
              ("objective", "model.objective"), ("epochs", "model.epochs"),
              ("accept_drift", "drift.accept"))


def _help(key: str) -> str:
    """An option's help: the config field's own description, and the key it sets."""
    from mtrec.pipeline.config_file import descriptions

    return f"{descriptions()[key]} ({key})"


def register(commands: argparse._SubParsersAction) -> None:
    run = add_command(
        commands, "run", _run,
        "run the whole pipeline: ingest, validate, transform, train, evaluate, push",
        "Runs the pipeline locally (LocalDagRunner, ML Metadata in SQLite under the pipeline "
        "root). Unchanged components are cached. Options override the config file, which "
        "overrides the defaults.")
    run.add_argument("--config", help="TOML config file (see docs/configuration.md)")
    run.add_argument("--data-dir", help=_help("data.ratings_dir"))
    run.add_argument("--items-file", help=_help("data.items_file"))
    run.add_argument("--pipeline-root", help=_help("pipeline_root"))
    run.add_argument("--serving-dir", help=_help("serving.serving_dir"))
    run.add_argument("--objective", choices=OBJECTIVES, help=_help("model.objective"))
    run.add_argument("--epochs", type=int, help=_help("model.epochs"))
    run.add_argument("--accept-drift", action="store_true", default=None,
                     help=_help("drift.accept"))
    run.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                     help="an Apache Beam pipeline option for the data components, e.g. "
                          "--beam-arg=--direct_running_mode=multi_processing (repeatable; "
                          "added to beam_args)")
    add_set_option(run, ", e.g. --set gate.min_top_k_accuracy=0.5")

    compile_parser = add_command(
        commands, "compile", _compile, "compile the pipeline for an orchestrator",
        "Writes the pipeline for an orchestrator without running it.")
    compile_parser.add_argument("orchestrator", choices=["kubeflow"],
                                help="kubeflow: a Kubeflow Pipelines v2 / Vertex AI PipelineJob JSON")
    compile_parser.add_argument("-o", "--output", required=True, help="file to write, e.g. pipeline.json")
    compile_parser.add_argument("--config", help="TOML config file; its paths must be reachable "
                                "from the cluster (e.g. gs://...)")
    compile_parser.add_argument("--image", help="container image for every component (kubeflow.image)")
    add_set_option(compile_parser)


def _run(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config
    from mtrec.pipeline.input_checks import check_inputs, check_output_dirs

    overrides = parse_set(args.set)
    for flag, key in _RUN_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    config = load_config(args.config, overrides)
    config.beam_args = list(config.beam_args) + list(args.beam_arg)
    check_inputs(config)  # before the slow TFX import, so mistakes are reported at once
    check_output_dirs(config)

    from mtrec.pipeline.cli import progress
    from mtrec.pipeline.runners.local import run_local
    from mtrec.pipeline.runs import summary

    print(f"Running pipeline '{config.pipeline_name}' on {config.data.ratings_dir}")
    print(f"  pipeline root: {config.pipeline_root}   serving dir: {config.serving.serving_dir}")
    handler = progress.install(debug=args.debug)
    started = time.monotonic()
    try:
        with progress.live(handler):
            ran = run_local(config)
    except UserFacingError:
        raise  # a component found bad input (e.g. the ExampleValidator): one line, exit 2
    except Exception as error:
        failed = handler.current or "the pipeline"
        raise RuntimeError(f"{failed} failed: {error}") from error
    result = summary.print_run_summary(ran, wall_seconds=time.monotonic() - started)
    return 0 if result.blessed and result.pushed_path else EXIT_NOT_BLESSED


def _compile(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config

    overrides = parse_set(args.set)
    if args.image is not None:
        overrides["kubeflow.image"] = args.image
    config = load_config(args.config, overrides)  # before the slow TFX import
    from mtrec.pipeline.runners.kubeflow import compile_kubeflow

    path = compile_kubeflow(config, args.output)
    print(f"wrote {path} (image {config.kubeflow.image}); submit it to Vertex AI Pipelines or "
          f"a Kubeflow Pipelines v2 cluster")
    return 0
