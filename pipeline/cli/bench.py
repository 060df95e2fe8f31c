"""`mtrec bench serving | quality | scale | overhead | retrain`: each prints its table and
writes it to docs/benchmarks.md, with the reference baselines from the same run."""

from __future__ import annotations

import argparse
from typing import List

from mtrec.pipeline.cli.common import (add_command, add_output_option, add_serving_options,
                                       add_set_option, parse_set, serving_location)
from mtrec.pipeline.runtime.errors import UserFacingError


def _add_work_dir_option(parser: argparse.ArgumentParser, name: str, holds: str) -> None:
    parser.add_argument("--work-dir", default=f"mtrec_output/bench-{name}",
                        help=f"{holds} (default mtrec_output/bench-{name})")


def _add_shared_data_option(parser: argparse.ArgumentParser, holds: str) -> None:
    parser.add_argument("--shared-data", default="../shared/data",
                        help=f"folder holding {holds} as GroupLens ships it (default "
                             "../shared/data)")


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="benchmarks (results in docs/benchmarks.md)",
                                description="Benchmark commands; each prints its table and "
                                            "writes it to docs/benchmarks.md.")
    benchmarks = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")

    serving = add_command(
        benchmarks, "serving", _bench_serving,
        "ScaNN against brute force (recall, latency, throughput), and HTTP load",
        "Measures the index the exporter builds against TFRS brute force on synthetic "
        "clustered embeddings, then loads `mtrec serve` over a copy of the newest pushed model "
        "with wrk (sudo apt-get install wrk): the SavedModel signatures in one process as the "
        "reference, then the fast path in --workers processes at 1, 50 and 200 connections, "
        "at fixed arrival rates, across a version switch, and over a synthetic model of "
        "--large-items items.")
    serving.add_argument("--sizes", default="10000,100000,1000000",
                         help="corpus sizes, comma-separated (default 10000,100000,1000000)")
    serving.add_argument("--dims", default="32,64",
                         help="embedding sizes, comma-separated (default 32,64)")
    serving.add_argument("--no-http", action="store_true",
                         help="skip the HTTP load test (it needs a pushed model and wrk)")
    serving.add_argument("--seconds", type=float, default=15.0,
                         help="length of each wrk run (default 15)")
    serving.add_argument("--workers", type=int, default=None,
                         help="server processes for the fast path (default: the core count)")
    serving.add_argument("--large-items", type=int, default=1_000_000,
                         help="items of the synthetic model served last (default 1000000; 0 "
                              "skips it)")
    add_output_option(serving)
    add_serving_options(serving)

    quality = add_command(
        benchmarks, "quality", _bench_quality,
        "the project's models beside baselines on four datasets (table and plot)",
        "On each dataset, runs the real pipeline once per loss weighting (rating-only, a joint "
        "sweep, retrieval-only), fits global-mean, bias, most-popular, EASE and TFRS-tutorial "
        "baselines on the same split, and writes the table and a trade-off plot "
        "(docs/quality-DATASET.png). The datasets: the embedded sample, MovieLens 100K and "
        "ml-latest-small (from --shared-data), and synthetic-sparse (generated: 10,000 "
        "ratings of 40 items, most users rating once).")
    quality.add_argument("--datasets",
                         default="sample,movielens-100k,movielens-latest-small,synthetic-sparse",
                         help="comma-separated (default sample,movielens-100k,"
                              "movielens-latest-small,synthetic-sparse)")
    _add_shared_data_option(quality, "ml-100k/ and ml-latest-small/")
    quality.add_argument("--weights", default=None, metavar="R:S,...",
                         help="loss weightings (retrieval:rating) to run instead of the default "
                              "sweep, e.g. 0:1,1:0.3,1:0")
    _add_work_dir_option(quality, "quality", "pipeline roots and prepared data; reused runs "
                                             "are cached")
    add_output_option(quality, "the table (the plots go beside it)")

    scale = add_command(
        benchmarks, "scale", _bench_scale,
        "the whole pipeline's time and memory at growing synthetic sizes",
        "For each size, generates synthetic ratings (data/synthetic.py; kept in the work "
        "folder), runs the whole pipeline from scratch with the gate open, and records each "
        "component's time and peak memory. The table is rewritten after every size.")
    scale.add_argument("--sizes", default="1000000,10000000,ml-25m",
                       help="numbers of ratings (about 50 per user and 100 per item), or "
                            "ml-25m for MovieLens 25M's shape (162,541 users, 59,047 items, "
                            "25,000,095 ratings), comma-separated (default "
                            "1000000,10000000,ml-25m)")
    scale.add_argument("--runners", default="in-memory",
                       help="Beam runners to run each size on, comma-separated: in-memory "
                            "(the DirectRunner in one process), multi-processing (the "
                            "DirectRunner with a worker process per core) and flink (a "
                            "standalone cluster the run starts; `mtrec flink setup` first) "
                            "(default in-memory)")
    add_set_option(scale, " for every run, e.g. model.epochs=2")
    scale.add_argument("--time-limit-minutes", type=float, default=120,
                       help="stop a size's run after this long and record it as stopped "
                            "(default 120)")
    _add_work_dir_option(scale, "scale", "generated data and pipeline roots")
    add_output_option(scale, "the tables")

    overhead = add_command(
        benchmarks, "overhead", _bench_overhead,
        "the pipeline's wall time against a plain TFRS script, and a cached re-run",
        "On ML-100K: a fresh `mtrec run` of configs/movielens-100k.toml, the same command "
        "again (all cached), and a plain script that fits and evaluates the TFRS multitask "
        "tutorial's joint model, each timed as a command from start to exit.")
    _add_shared_data_option(overhead, "ml-100k/")
    _add_work_dir_option(overhead, "overhead", "prepared data and pipeline root")
    add_output_option(overhead)

    retrain = add_command(
        benchmarks, "retrain", _bench_retrain,
        "scheduled retraining replayed span by span: warm start against from scratch",
        "Cuts ML-100K by timestamp into --spans equal spans and, after each arrives, runs two "
        "pipelines on the same window of spans: one warm-started from its last blessed model, "
        "one from scratch. Records each run's time and its model's top-10, top-100 (seen "
        "excluded) and RMSE on the next span beside most-popular's, and writes the table and "
        "a plot (docs/retrain-movielens-100k.png).")
    retrain.add_argument("--spans", type=int, default=10,
                         help="spans to cut the ratings into (default 10)")
    retrain.add_argument("--window-spans", type=int, default=3,
                         help="the window both pipelines train on (data.window_spans; default 3)")
    retrain.add_argument("--warm-start-epochs", type=int, default=3,
                         help="epochs of a warm run (model.warm_start_epochs; default 3)")
    _add_shared_data_option(retrain, "ml-100k/")
    _add_work_dir_option(retrain, "retrain", "prepared data, the spans and both pipeline roots "
                                             "(replaced by each run)")
    add_output_option(retrain, "the table (the plot goes beside it)")


def _parse_sizes(text: str) -> list:
    """ScaledSpecs from "1000000,10000000,ml-25m"."""
    from mtrec.benchmarks.scale import parse_size

    try:
        sizes = [parse_size(size) for size in text.split(",") if size.strip()]
    except ValueError as error:
        raise UserFacingError(f"--sizes takes whole numbers of ratings or ml-25m, e.g. "
                              f"100000,1000000 ({error})") from error
    if not sizes or not all(1_000 <= size.num_ratings <= 100_000_000 for size in sizes):
        raise UserFacingError(f"--sizes: {text!r}: each size must be in 1000..100000000 ratings")
    return sizes


def _bench_scale(args: argparse.Namespace) -> int:
    from mtrec.pipeline.config import load_config

    sizes = _parse_sizes(args.sizes)
    if not 1 <= args.time_limit_minutes <= 24 * 60:
        raise UserFacingError(f"--time-limit-minutes must be in 1..1440, got {args.time_limit_minutes:g}")
    config = load_config(None, parse_set(args.set))  # a bad key or value: reported now
    overrides = dict(item.split("=", 1) for item in args.set)

    from mtrec.benchmarks import scale
    from mtrec.pipeline.runners import flink_cluster

    runners = [name.strip().replace("-", " ") for name in args.runners.split(",") if name.strip()]
    unknown = [name for name in runners if name not in scale.RUNNERS]
    if unknown or not runners:
        raise UserFacingError(f"--runners: {args.runners!r}: each must be one of "
                              f"{', '.join(name.replace(' ', '-') for name in scale.RUNNERS)}")
    cluster = flink_cluster.spec_for(config.flink)
    text = scale.run(sizes, runners, args.work_dir, args.output, overrides,
                     args.time_limit_minutes * 60, progress=lambda line: print(line, flush=True),
                     flink_pids=lambda: flink_cluster.daemon_pids(cluster))
    print(text)
    print(f"written to {args.output}")
    return 0


def _bench_overhead(args: argparse.Namespace) -> int:
    import os

    folder = os.path.join(args.shared_data, "ml-100k")
    if not os.path.isfile(os.path.join(folder, "u.data")):
        raise UserFacingError(f"{os.path.join(folder, 'u.data')}: not found (--shared-data); "
                        "`mtrec data download movielens-100k` fetches it")
    from mtrec.benchmarks import overhead

    text = overhead.run(folder, args.work_dir, args.output,
                        progress=lambda line: print(line, flush=True))
    print(text)
    print(f"written to {args.output}")
    return 0


def _bench_retrain(args: argparse.Namespace) -> int:
    import os

    folder = os.path.join(args.shared_data, "ml-100k")
    if not os.path.isfile(os.path.join(folder, "u.data")):
        raise UserFacingError(f"{os.path.join(folder, 'u.data')}: not found (--shared-data); "
                              "`mtrec data download movielens-100k` fetches it")
    if not 3 <= args.spans <= 100:
        raise UserFacingError(f"--spans must be in 3..100, got {args.spans}")
    if not 1 <= args.window_spans <= args.spans:
        raise UserFacingError(f"--window-spans must be in 1..{args.spans}, got {args.window_spans}")
    if not 1 <= args.warm_start_epochs <= 100:
        raise UserFacingError(f"--warm-start-epochs must be in 1..100, got {args.warm_start_epochs}")
    from mtrec.benchmarks import retrain

    text = retrain.run(args.shared_data, args.work_dir, args.output, args.spans,
                       args.window_spans, args.warm_start_epochs,
                       progress=lambda line: print(line, flush=True))
    print(text)
    print(f"written to {args.output}")
    return 0


def _parse_weights(text: str) -> List[tuple]:
    try:
        weights = [tuple(float(v) for v in pair.split(":")) for pair in text.split(",")]
    except ValueError as error:
        raise UserFacingError(f"--weights takes retrieval:rating pairs, e.g. 1:0.3,0:1 ({error})") from error
    for pair in weights:
        if len(pair) != 2 or min(pair) < 0 or sum(pair) == 0:
            raise UserFacingError(f"--weights: {':'.join(f'{v:g}' for v in pair)} is not a "
                            "retrieval:rating pair of non-negative weights, not both 0")
    return weights


def _bench_quality(args: argparse.Namespace) -> int:
    import os

    from mtrec.benchmarks import quality

    sweep = _parse_weights(args.weights) if args.weights else quality.SWEEP
    datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in datasets if name not in quality.DATASETS]
    if not datasets or unknown:
        raise UserFacingError(f"--datasets: unknown {', '.join(unknown) or '(none given)'}; choose from "
                        f"{', '.join(quality.DATASETS)}")
    for name in datasets:
        if not quality.DATASETS[name].shared_folder:
            continue  # the embedded sample, or generated here
        folder = os.path.join(args.shared_data, quality.DATASETS[name].shared_folder)
        if not os.path.isdir(folder):
            raise UserFacingError(f"{folder}: not found (--shared-data); `mtrec data download {name}` "
                            "fetches it")
    section = quality.run(datasets, args.shared_data, args.work_dir, args.output, sweep,
                          progress=lambda line: print(line, flush=True))
    print(section)
    print(f"written to {args.output}")
    return 0


def _bench_serving(args: argparse.Namespace) -> int:
    from mtrec.benchmarks import report, serving

    try:
        sizes = [int(v) for v in args.sizes.split(",")]
        dims = [int(v) for v in args.dims.split(",")]
    except ValueError as error:
        raise UserFacingError(f"--sizes and --dims take comma-separated integers: {error}") from error
    if not all(s >= 1000 for s in sizes) or not all(1 <= d <= 1024 for d in dims):
        raise UserFacingError("sizes must be >= 1000 and dims in 1..1024")
    if not 1 <= args.seconds <= 3600:
        raise UserFacingError(f"--seconds must be in 1..3600, got {args.seconds}")
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise UserFacingError(f"--workers must be in 1..256, got {args.workers}")
    if args.large_items and not 1000 <= args.large_items <= 10_000_000:
        raise UserFacingError(f"--large-items must be 0 or in 1000..10000000, got {args.large_items}")
    rows = []
    for size in sizes:
        for dim in dims:
            print(f"index: {size:,} items, d={dim} ...", flush=True)
            # In its own process, so that none of its memory or threads is left
            # beside the HTTP part's servers.
            rows += serving.in_fresh_process(serving.bench_index, size, dim)
    http = None
    if not args.no_http:
        http = serving.bench_http(*serving_location(args), seconds=args.seconds,
                                  large_items=args.large_items, workers=args.workers)
    section = serving.render(rows, http, report.machine())
    print(section)
    report.write_section(args.output, section)
    print(f"written to {args.output}")
    return 0
