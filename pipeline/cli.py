"""The `mtrec` command line.

  mtrec run                   run the whole pipeline (sample data by default)
  mtrec compile kubeflow -o F write the pipeline as a Kubeflow v2 / Vertex PipelineJob
  mtrec recommend --user U    top-k items for a user from the latest pushed model
  mtrec predict --user U --item I
                              predicted rating for a (user, item) pair
  mtrec similar-items --item I
                              items most similar to an item
  mtrec similar-users --user U
                              users most similar to a user
  mtrec export-embeddings -o DIR [--format csv|npy|parquet]
                              every user and item embedding with its id
  mtrec models                pushed versions and evaluated models with metrics and blessing
  mtrec rollback [--to V]     serve an earlier blessed version again
  mtrec serve                 HTTP server over the latest pushed model
  mtrec bench serving         index and HTTP benchmark -> docs/benchmarks.md
  mtrec bench quality         the models against baselines on MovieLens -> docs/benchmarks.md
  mtrec bench scale           the whole pipeline at 100k, 1M and 10M synthetic ratings
  mtrec bench overhead        the pipeline against a plain TFRS script on ML-100K
  mtrec data download NAME    download, verify and unpack a MovieLens dataset from GroupLens
  mtrec data prepare DATASET  convert MovieLens, Amazon reviews or any CSV into canonical CSVs
  mtrec runs | show RUN | report RUN -o F | init | config show
                              run history, HTML report, config file (pipeline/cli_ux.py)

Exit status: 0 success; 1 a component failed; 2 bad input or configuration
(one clear line, no traceback; `--debug` shows it and every log line); 3 the
run completed but the model was not blessed (or its index was refused), so
nothing was pushed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from mtrec.pipeline import env
from mtrec.pipeline.errors import UserFacingError

EXIT_USAGE = 2
EXIT_NOT_BLESSED = 3  # the run completed, but the model was not blessed or not pushed


class UserError(UserFacingError):
    """A problem the user can fix; printed without a traceback."""


def _common_serving_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (its [serving] section is used)")
    parser.add_argument("--serving-dir", help="folder the Pusher publishes to "
                        "(default: serving.serving_dir of the config)")
    parser.add_argument("--model-name", help="model name under the serving folder "
                        "(default: serving.model_name of the config)")


def _parse_set(values: Sequence[str]) -> Dict[str, Any]:
    """--set section.key=value pairs; values are parsed as TOML scalars or lists."""
    import tomli

    overrides = {}
    for item in values:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        try:
            overrides[key.strip()] = tomli.loads(f"v = {raw}")["v"]
        except tomli.TOMLDecodeError:
            overrides[key.strip()] = raw  # a bare string
    return overrides


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse reports anything else, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from mtrec.data import movielens

    parser = argparse.ArgumentParser(
        prog="mtrec", description="A multi-task (retrieval + rating) recommender pipeline on TFX.")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks and every log line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the whole pipeline: ingest, validate, transform, train, evaluate, push",
        description="Runs the pipeline locally (LocalDagRunner, ML Metadata in SQLite under the "
                    "pipeline root). Unchanged components are cached. Options override the "
                    "config file, which overrides the defaults.")
    run.add_argument("--config", help="TOML config file (see README, 'Configuration')")
    run.add_argument("--data-dir", help="folder of ratings CSVs (data.ratings_dir)")
    run.add_argument("--items-file", help="items CSV with item_id,title (data.items_file); "
                     "'' for none")
    run.add_argument("--pipeline-root", help="folder for artifacts and ML Metadata")
    run.add_argument("--serving-dir", help="folder blessed models are pushed to")
    run.add_argument("--objective", choices=["joint", "retrieval", "rating"],
                     help="loss-weight preset (model.objective)")
    run.add_argument("--epochs", type=int, help="training epochs (model.epochs)")
    run.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                     help="an Apache Beam pipeline option for the data components, e.g. "
                          "--beam-arg=--direct_running_mode=multi_processing (repeatable; "
                          "added to beam_args)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any config value, e.g. --set gate.min_top_k_accuracy=0.5 "
                          "(repeatable)")

    compile_parser = commands.add_parser(
        "compile", help="compile the pipeline for an orchestrator",
        description="Writes the pipeline for an orchestrator without running it.")
    compile_parser.add_argument("orchestrator", choices=["kubeflow"],
                                help="kubeflow: a Kubeflow Pipelines v2 / Vertex AI PipelineJob JSON")
    compile_parser.add_argument("-o", "--output", required=True, help="file to write, e.g. pipeline.json")
    compile_parser.add_argument("--config", help="TOML config file; its paths must be reachable "
                                "from the cluster (e.g. gs://...)")
    compile_parser.add_argument("--image", help="container image for every component (kubeflow.image)")
    compile_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                                help="any config value (repeatable)")

    recommend = commands.add_parser(
        "recommend", help="top-k items for a user from the latest pushed model",
        description="Loads the newest pushed version and prints the user's top-k items "
                    "(ScaNN index; items the user rated in training are excluded).")
    recommend.add_argument("--user", required=True, help="user id")
    recommend.add_argument("-k", type=_positive_int, default=10, help="number of items (default 10)")
    recommend.add_argument("--include-seen", action="store_true",
                           help="do not exclude items the user rated in training")
    recommend.add_argument("--exact", action="store_true",
                           help="brute-force search instead of the ScaNN index")
    _common_serving_args(recommend)

    predict = commands.add_parser(
        "predict", help="predicted rating for a user and an item",
        description="Loads the newest pushed version and prints the predicted rating.")
    predict.add_argument("--user", required=True, help="user id")
    predict.add_argument("--item", required=True, help="item id")
    _common_serving_args(predict)

    similar = commands.add_parser(
        "similar-items", help="items most similar to an item, from the latest pushed model",
        description="Ranks items by the cosine similarity of their embeddings to the item's.")
    similar.add_argument("--item", required=True, help="item id")
    similar.add_argument("-k", type=_positive_int, default=10, help="number of items (default 10)")
    _common_serving_args(similar)

    similar_users = commands.add_parser(
        "similar-users", help="users most similar to a user, from the latest pushed model",
        description="Ranks users by the cosine similarity of their embeddings to the user's.")
    similar_users.add_argument("--user", required=True, help="user id")
    similar_users.add_argument("-k", type=_positive_int, default=10, help="number of users (default 10)")
    _common_serving_args(similar_users)

    export = commands.add_parser(
        "export-embeddings", help="write user and item embeddings with their ids",
        description="Writes every user's and item's embedding from the latest pushed model: "
                    "csv (id,e0,e1,...), npy (+ ids .txt) or parquet (id, embedding list).")
    export.add_argument("--format", choices=["csv", "npy", "parquet"], default="csv",
                        help="file format (default csv)")
    export.add_argument("-o", "--output", required=True, help="folder to write the files to")
    _common_serving_args(export)

    models = commands.add_parser(
        "models", help="pushed versions and evaluated models, with metrics and blessing",
        description="Lists every model the Evaluator judged (ML Metadata under the pipeline "
                    "root) and every version in the serving folder: its gated metrics, whether "
                    "it was blessed, and which version is served.")
    models.add_argument("--pipeline-root", help="folder of artifacts and ML Metadata "
                        "(default: pipeline_root of the config)")
    _common_serving_args(models)

    rollback = commands.add_parser(
        "rollback", help="serve an earlier blessed version again",
        description="Publishes a copy of an earlier version as the newest version (copy to a "
                    "staging folder, then one rename), so every server that serves the newest "
                    "version switches to it. Default: the newest version holding a different "
                    "model than the one served now.")
    rollback.add_argument("--to", type=int, metavar="VERSION",
                          help="the version to serve again (see `mtrec models`)")
    _common_serving_args(rollback)

    serve = commands.add_parser(
        "serve", help="HTTP server over the latest pushed model (TF Serving REST shape and more)",
        description="Serves the newest pushed version over HTTP and switches to newer versions "
                    "as they are pushed. Endpoints: see README, 'Serving over HTTP'.")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on "
                       "(default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8501, help="port (default 8501, as TF Serving's REST)")
    serve.add_argument("--poll-seconds", type=float, default=5.0,
                       help="how often to look for a newly pushed version (default 5)")
    _common_serving_args(serve)

    bench = commands.add_parser("bench", help="benchmarks (results in docs/benchmarks.md)",
                                description="Benchmark commands; each prints its table and "
                                            "writes it to docs/benchmarks.md.")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    serving_bench = bench_commands.add_parser(
        "serving", help="ScaNN against brute force (recall, latency, throughput), and HTTP load",
        description="Measures the index the exporter builds against TFRS brute force on synthetic "
                    "clustered embeddings, then loads `mtrec serve` over the newest pushed model "
                    "with 50 concurrent clients. Takes several minutes at 1M items.")
    serving_bench.add_argument("--sizes", default="10000,100000,1000000",
                               help="corpus sizes, comma-separated (default 10000,100000,1000000)")
    serving_bench.add_argument("--dims", default="32,64",
                               help="embedding sizes, comma-separated (default 32,64)")
    serving_bench.add_argument("--no-http", action="store_true",
                               help="skip the HTTP load test (it needs a pushed model)")
    serving_bench.add_argument("--output", default="docs/benchmarks.md",
                               help="markdown file to write the table to")
    _common_serving_args(serving_bench)
    quality_bench = bench_commands.add_parser(
        "quality", help="the project's models beside baselines on MovieLens (table and plot)",
        description="On each dataset, runs the real pipeline once per loss weighting (rating-only, "
                    "a joint sweep, retrieval-only), fits global-mean, bias, most-popular, EASE "
                    "and TFRS-tutorial baselines on the same split, and writes the table and a "
                    "trade-off plot (docs/quality-DATASET.png). About 25 minutes per dataset on "
                    "2 cores.")
    quality_bench.add_argument("--datasets", default="movielens-100k,movielens-latest-small",
                               help="comma-separated (default movielens-100k,"
                                    "movielens-latest-small)")
    quality_bench.add_argument("--shared-data", default="../shared/data",
                               help="folder holding ml-100k/ and ml-latest-small/ as GroupLens "
                                    "ships them (default ../shared/data)")
    quality_bench.add_argument("--weights", default=None, metavar="R:S,...",
                               help="loss weightings (retrieval:rating) to run instead of the "
                                    "default sweep, e.g. 0:1,1:0.3,1:0")
    quality_bench.add_argument("--work-dir", default="mtrec_output/bench-quality",
                               help="pipeline roots and prepared data (default "
                                    "mtrec_output/bench-quality); reused runs are cached")
    quality_bench.add_argument("--output", default="docs/benchmarks.md",
                               help="markdown file to write the table to; the plots go beside it")
    scale_bench = bench_commands.add_parser(
        "scale", help="the whole pipeline's time and memory at growing synthetic sizes",
        description="For each size, generates synthetic ratings (data/synthetic.py; kept in the "
                    "work folder), runs the whole pipeline from scratch with the gate open, and "
                    "records each component's time and peak memory. The table is rewritten "
                    "after every size. 1M ratings take about 10 minutes on 2 cores.")
    scale_bench.add_argument("--sizes", default="100000,1000000,10000000",
                             help="numbers of ratings, comma-separated (default "
                                  "100000,1000000,10000000)")
    scale_bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                             help="a config override for every run, e.g. model.epochs=2 "
                                  "(repeatable)")
    scale_bench.add_argument("--time-limit-minutes", type=float, default=120,
                             help="stop a size's run after this long and record it as stopped "
                                  "(default 120)")
    scale_bench.add_argument("--work-dir", default="mtrec_output/bench-scale",
                             help="generated data and pipeline roots (default "
                                  "mtrec_output/bench-scale)")
    scale_bench.add_argument("--output", default="docs/benchmarks.md",
                             help="markdown file to write the tables to")
    overhead_bench = bench_commands.add_parser(
        "overhead", help="the pipeline's wall time against a plain TFRS script, and a cached re-run",
        description="On ML-100K: a fresh `mtrec run` of configs/movielens-100k.toml, the same "
                    "command again (all cached), and a plain script that fits and "
                    "evaluates the TFRS multitask tutorial's joint model, each timed as a "
                    "command from start to exit. About 4 minutes on 2 cores.")
    overhead_bench.add_argument("--shared-data", default="../shared/data",
                                help="folder holding ml-100k/ as GroupLens ships it (default "
                                     "../shared/data)")
    overhead_bench.add_argument("--work-dir", default="mtrec_output/bench-overhead",
                                help="prepared data and pipeline root (default "
                                     "mtrec_output/bench-overhead)")
    overhead_bench.add_argument("--output", default="docs/benchmarks.md",
                                help="markdown file to write the table to")

    data = commands.add_parser("data", help="download and prepare datasets",
                               description="Dataset download and preparation commands.")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    download = data_commands.add_parser(
        "download", help="download, verify (MD5) and unpack a MovieLens dataset from GroupLens",
        description="Streams <mirror>/<zip> to the output folder, verifies its MD5 and unpacks "
                    "it to <output>/<folder>; a dataset already there and verified is not "
                    "downloaded again.")
    download.add_argument("name", metavar="NAME", help="movielens-100k, movielens-latest-small, "
                          "movielens-1m or movielens-25m")
    download.add_argument("--output", default="mtrec_output/downloads",
                          help="folder to unpack into (default mtrec_output/downloads)")
    download.add_argument("--mirror", metavar="URL", help="base URL that holds the zips "
                          "(default https://files.grouplens.org/datasets/movielens)")
    prepare = data_commands.add_parser(
        "prepare", help="convert a dataset into canonical CSVs",
        description="Streams a dataset into <output>/ratings/ratings.csv (user_id, item_id and, "
                    "where the data has them, rating, timestamp, title, genres, review_summary) "
                    "and <output>/items.csv (item_id,title,genres) when it has item titles, then "
                    "prints the `mtrec run` command that trains on them.")
    prepare.add_argument("dataset", choices=[*movielens.DATASETS, "amazon-2014", "csv"],
                         help="source layout: a MovieLens release, Amazon's 2014 review CSVs, "
                         "or any CSV ('csv', with the column options below)")
    prepare.add_argument("--source", required=True, help="the unpacked dataset folder (MovieLens), "
                         "or a CSV file or folder of CSV files (amazon-2014, csv)")
    prepare.add_argument("--output", required=True, help="folder to write the canonical CSVs to")
    prepare.add_argument("--no-side-features", action="store_true",
                         help="MovieLens: leave the title and genres columns out of the rating rows")
    mapping = prepare.add_argument_group(
        "csv column mapping", "For `csv`: a header name, or a 0-based index with --no-header.")
    mapping.add_argument("--user-column", help="the user id column (required for csv)")
    mapping.add_argument("--item-column", help="the item id column (required for csv)")
    mapping.add_argument("--rating-column", help="the explicit rating; leave out for implicit-only "
                         "data (clicks, views, purchases)")
    mapping.add_argument("--timestamp-column", help="unix seconds or an ISO-8601 date/time")
    mapping.add_argument("--title-column", help="the item's title (also writes items.csv)")
    mapping.add_argument("--text-column", help="review text, kept as review_summary")
    mapping.add_argument("--delimiter", default=",", help="field delimiter (default ','; "
                         "'\\t' for tabs)")
    mapping.add_argument("--no-header", action="store_true", help="the file has no header row")
    mapping.add_argument("--encoding", default="utf-8", help="text encoding (default utf-8)")
    from mtrec.pipeline import cli_ux

    cli_ux.add_commands(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config
    from mtrec.pipeline.input_checks import check_inputs, check_output_dirs

    overrides = _parse_set(args.set)
    for flag, key in (("data_dir", "data.ratings_dir"), ("items_file", "data.items_file"),
                      ("pipeline_root", "pipeline_root"), ("serving_dir", "serving.serving_dir"),
                      ("objective", "model.objective"), ("epochs", "model.epochs")):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    config = load_config(args.config, overrides)
    config.beam_args = list(config.beam_args) + list(args.beam_arg)
    check_inputs(config)  # before the slow TFX import, so mistakes are reported at once
    check_output_dirs(config)

    from mtrec.pipeline import progress, summary
    from mtrec.pipeline.local_runner import run_local

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

    overrides = _parse_set(args.set)
    if args.image is not None:
        overrides["kubeflow.image"] = args.image
    config = load_config(args.config, overrides)
    from mtrec.pipeline.kubeflow_runner import compile_kubeflow

    path = compile_kubeflow(config, args.output)
    print(f"wrote {path} (image {config.kubeflow.image}); submit it to Vertex AI Pipelines or "
          f"a Kubeflow Pipelines v2 cluster")
    return 0


def _load_model(args: argparse.Namespace):
    from mtrec.pipeline.config import load_config
    from mtrec.serving.loader import PushedModel

    config = load_config(args.config)
    return PushedModel.latest(args.serving_dir or config.serving.serving_dir,
                              args.model_name or config.serving.model_name)


def _check_k(k: int, model) -> None:
    if not 1 <= k <= model.max_k:
        raise UserError(f"-k must be in 1..{model.max_k} (the model's max_k), got {k}")


def _recommend(args: argparse.Namespace) -> int:
    if args.exact and args.include_seen:  # checked before the slow model load
        raise UserError("--exact searches with seen items excluded only: drop --include-seen "
                        "or --exact")
    model = _load_model(args)
    _check_k(args.k, model)
    (result,) = model.recommend([args.user], args.k, exclude_seen=not args.include_seen,
                                exact=args.exact)
    if result.cold_start:
        print(f"note: user {args.user!r} was not in the training data; showing the most "
              f"popular items (cold start)", file=sys.stderr)
    from mtrec.pipeline.summary import print_recommendations
    print_recommendations(f"user {args.user}", result.items, model)
    return 0


def _predict(args: argparse.Namespace) -> int:
    model = _load_model(args)
    if not model.known_items([args.item])[0]:
        raise UserError(f"item {args.item!r} was not in the training data: no rating to predict")
    if not model.known_users([args.user])[0]:
        print(f"note: user {args.user!r} was not in the training data; the rating rests on "
              f"the item alone", file=sys.stderr)
    (rating,) = model.predict_rating([args.user], [args.item])
    print(f"{rating:.3f}")
    return 0


def _similar_items(args: argparse.Namespace) -> int:
    model = _load_model(args)
    _check_k(args.k, model)
    if not model.known_items([args.item])[0]:
        raise UserError(f"item {args.item!r} was not in the training data")
    (items,) = model.similar_items([args.item], args.k)
    from mtrec.pipeline.summary import print_recommendations
    print_recommendations(f"item {args.item}", items, model)
    return 0


def _similar_users(args: argparse.Namespace) -> int:
    model = _load_model(args)
    _check_k(args.k, model)
    if not model.known_users([args.user])[0]:
        raise UserError(f"user {args.user!r} was not in the training data")
    (users,) = model.similar_users([args.user], args.k)
    for rank, (user, score) in enumerate(users, 1):
        print(f"{rank:3d}  {user}  {score:.4f}")
    return 0


def _export_embeddings(args: argparse.Namespace) -> int:
    from mtrec.serving.embeddings_export import export_embeddings

    model = _load_model(args)
    written = export_embeddings(model, args.output, args.format)
    print(f"wrote {written['user']} user and {written['item']} item embeddings "
          f"({args.format}) from version {model.version} to {args.output}")
    return 0


def _models(args: argparse.Namespace) -> int:
    import logging
    import os

    from mtrec.pipeline.config import load_config
    from rich.console import Console

    from mtrec.pipeline.models import list_models, models_table

    config = load_config(args.config)
    if args.pipeline_root:
        config.pipeline_root = args.pipeline_root
    base = os.path.join(args.serving_dir or config.serving.serving_dir,
                        args.model_name or config.serving.model_name)
    if not args.debug:  # TFMA's reader logs a deprecation warning per evaluation
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    records = list_models(config.metadata_path, base)
    if not records:
        raise UserError(f"no model evaluated in {config.metadata_path} and none pushed to {base}")
    Console().print(models_table(records, base, config.gate.top_k_metric))  # width: $COLUMNS
    return 0


def _rollback(args: argparse.Namespace) -> int:
    import os

    from mtrec.components.atomic_pusher import rollback
    from mtrec.pipeline.config import load_config

    config = load_config(args.config)
    base = os.path.join(args.serving_dir or config.serving.serving_dir,
                        args.model_name or config.serving.model_name)
    previous, copied, path = rollback(base, args.to)
    print(f"serving version {copied} again, as version {os.path.basename(path)} "
          f"(was serving {previous}): {path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    from mtrec.pipeline.config import load_config
    from mtrec.serving.server import serve

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be in 1..65535, got {args.port}")
    if args.poll_seconds <= 0:
        raise UserError(f"--poll-seconds must be > 0, got {args.poll_seconds}")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = load_config(args.config)
    serve(args.serving_dir or config.serving.serving_dir,
          args.model_name or config.serving.model_name, args.host, args.port, args.poll_seconds)
    return 0


def _bench(args: argparse.Namespace) -> int:
    return {"serving": _bench_serving, "quality": _bench_quality, "scale": _bench_scale,
            "overhead": _bench_overhead}[args.bench_command](args)


def _parse_sizes(text: str) -> List[int]:
    try:
        sizes = [int(size) for size in text.split(",") if size.strip()]
    except ValueError as error:
        raise UserError(f"--sizes takes whole numbers of ratings, e.g. 100000,1000000 ({error})"
                        ) from error
    if not sizes or not all(1_000 <= size <= 100_000_000 for size in sizes):
        raise UserError(f"--sizes: {text!r}: each size must be in 1000..100000000 ratings")
    return sizes


def _bench_scale(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config

    sizes = _parse_sizes(args.sizes)
    if not 1 <= args.time_limit_minutes <= 24 * 60:
        raise UserError(f"--time-limit-minutes must be in 1..1440, got {args.time_limit_minutes:g}")
    load_config(None, _parse_set(args.set))  # a bad key or value is reported now, not per run
    overrides = dict(item.split("=", 1) for item in args.set)

    from mtrec.benchmarks import scale

    text = scale.run(sizes, args.work_dir, args.output, overrides, args.time_limit_minutes * 60, progress=lambda line: print(line, flush=True))
    print(text)
    print(f"written to {args.output}")
    return 0


def _bench_overhead(args: argparse.Namespace) -> int:
    import os

    folder = os.path.join(args.shared_data, "ml-100k")
    if not os.path.isfile(os.path.join(folder, "u.data")):
        raise UserError(f"{os.path.join(folder, 'u.data')}: not found (--shared-data); "
                        "`mtrec data download movielens-100k` fetches it")
    from mtrec.benchmarks import overhead

    text = overhead.run(folder, args.work_dir, args.output,
                        progress=lambda line: print(line, flush=True))
    print(text)
    print(f"written to {args.output}")
    return 0


def _parse_weights(text: str) -> List[tuple]:
    try:
        weights = [tuple(float(v) for v in pair.split(":")) for pair in text.split(",")]
    except ValueError as error:
        raise UserError(f"--weights takes retrieval:rating pairs, e.g. 1:0.3,0:1 ({error})") from error
    for pair in weights:
        if len(pair) != 2 or min(pair) < 0 or sum(pair) == 0:
            raise UserError(f"--weights: {':'.join(f'{v:g}' for v in pair)} is not a "
                            "retrieval:rating pair of non-negative weights, not both 0")
    return weights


def _bench_quality(args: argparse.Namespace) -> int:
    import os

    from mtrec.benchmarks import quality

    sweep = _parse_weights(args.weights) if args.weights else quality.SWEEP
    datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in datasets if name not in quality.DATASETS]
    if not datasets or unknown:
        raise UserError(f"--datasets: unknown {', '.join(unknown) or '(none given)'}; choose from "
                        f"{', '.join(quality.DATASETS)}")
    for name in datasets:
        folder = os.path.join(args.shared_data, quality.DATASETS[name].shared_folder)
        if not os.path.isdir(folder):
            raise UserError(f"{folder}: not found (--shared-data); `mtrec data download {name}` "
                            "fetches it")
    section = quality.run(datasets, args.shared_data, args.work_dir, args.output, sweep,
                          progress=lambda line: print(line, flush=True))
    print(section)
    print(f"written to {args.output}")
    return 0


def _bench_serving(args: argparse.Namespace) -> int:
    from mtrec.benchmarks import report, serving
    from mtrec.pipeline.config import load_config

    try:
        sizes = [int(v) for v in args.sizes.split(",")]
        dims = [int(v) for v in args.dims.split(",")]
    except ValueError as error:
        raise UserError(f"--sizes and --dims take comma-separated integers: {error}") from error
    if not all(s >= 1000 for s in sizes) or not all(1 <= d <= 1024 for d in dims):
        raise UserError("sizes must be >= 1000 and dims in 1..1024")
    rows = []
    for size in sizes:
        for dim in dims:
            print(f"index: {size:,} items, d={dim} ...", flush=True)
            rows += serving.bench_index(size, dim)
    http = None
    if not args.no_http:
        config = load_config(args.config)
        print("HTTP: 50 concurrent clients ...", flush=True)
        http = serving.bench_http(args.serving_dir or config.serving.serving_dir,
                                  args.model_name or config.serving.model_name)
    section = serving.render(rows, http, report.machine())
    print(section)
    report.write_section(args.output, section)
    print(f"written to {args.output}")
    return 0


def _data(args: argparse.Namespace) -> int:
    if args.data_command == "download":
        return _download(args)
    from mtrec.data import generic_csv, movielens

    if args.dataset in movielens.DATASETS:
        counts = movielens.prepare(args.dataset, args.source, args.output,
                                   side_features=not args.no_side_features)
    else:
        counts = generic_csv.prepare(args.source, args.output, _column_mapping(args),
                                     generic_csv.CsvFormat(
                                         delimiter=args.delimiter.replace("\\t", "\t"),
                                         header=not args.no_header, encoding=args.encoding))
    print(f"wrote {counts.ratings} interactions ({counts.users} users, {counts.items} items) "
          f"to {args.output}/ratings/ratings.csv"
          + (f" and {counts.items_file}" if counts.items_file else ""))
    items_file = counts.items_file or "''"
    command = f"mtrec run --data-dir {args.output}/ratings --items-file {items_file}"
    if not counts.has_ratings:
        command += " --set data.has_ratings=false"
    print(f"train on it with: {command}")
    return 0


def _column_mapping(args: argparse.Namespace) -> "generic_csv.ColumnMapping":
    from mtrec.data import generic_csv

    if args.dataset == "amazon-2014":
        return generic_csv.AMAZON_2014
    if not args.user_column or not args.item_column:
        raise UserError("csv: --user-column and --item-column are required")
    return generic_csv.ColumnMapping(
        user=args.user_column, item=args.item_column, rating=args.rating_column,
        timestamp=args.timestamp_column, title=args.title_column, text=args.text_column)


def _download(args: argparse.Namespace) -> int:
    from mtrec.data.download import GROUPLENS, download

    result = download(args.name, args.output, base_url=args.mirror or GROUPLENS)
    if result.downloaded:
        print(f"{args.name}: verified (MD5 {result.md5}) and unpacked to {result.path}")
    else:
        print(f"{args.name}: already in {result.path} and verified (MD5 {result.md5}); "
              f"not downloading again")
    print(f"next: mtrec data prepare {args.name} --source {result.path} "
          f"--output mtrec_output/data/{result.path.name}")
    return 0


_COMMANDS = {"run": _run, "compile": _compile, "recommend": _recommend, "predict": _predict,
             "similar-items": _similar_items, "similar-users": _similar_users,
             "export-embeddings": _export_embeddings, "models": _models,
             "rollback": _rollback, "serve": _serve, "bench": _bench,
             "data": _data}


def main(argv: Optional[List[str]] = None) -> int:
    from mtrec.pipeline.cli_ux import COMMANDS as UX_COMMANDS

    env.configure()
    args = build_parser().parse_args(argv)
    try:
        return {**_COMMANDS, **UX_COMMANDS}[args.command](args)
    except UserFacingError as error:
        if args.debug:
            raise
        print(f"mtrec {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:
        if args.debug:
            raise
        print(f"mtrec {args.command}: error: {error}\n(run again with --debug for the "
              f"full traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
