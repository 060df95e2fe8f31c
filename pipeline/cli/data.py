"""`mtrec data download` (a MovieLens release, verified) and `mtrec data prepare`
(any supported layout into the canonical CSVs)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mtrec.pipeline.cli.common import add_command
from mtrec.pipeline.runtime.errors import UserFacingError

if TYPE_CHECKING:
    from mtrec.data import generic_csv


def register(commands: argparse._SubParsersAction) -> None:
    from mtrec.data import movielens

    data = commands.add_parser("data", help="download and prepare datasets",
                               description="Dataset download and preparation commands.")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    download = add_command(
        data_commands, "download", _download,
        "download, verify (MD5) and unpack a MovieLens dataset from GroupLens",
        "Streams <mirror>/<zip> to the output folder, verifies its MD5 and unpacks it to "
        "<output>/<folder>; a dataset already there and verified is not downloaded again.")
    download.add_argument("name", metavar="NAME", help="movielens-100k, movielens-latest-small, "
                          "movielens-1m or movielens-25m")
    download.add_argument("--output", default="mtrec_output/downloads",
                          help="folder to unpack into (default mtrec_output/downloads)")
    download.add_argument("--mirror", metavar="URL", help="base URL that holds the zips "
                          "(default https://files.grouplens.org/datasets/movielens)")
    prepare = add_command(
        data_commands, "prepare", _prepare, "convert a dataset into canonical CSVs",
        "Streams a dataset into <output>/ratings/ratings.csv (user_id, item_id and, where the "
        "data has them, rating, timestamp, title, genres, review_summary) and "
        "<output>/items.csv (item_id,title,genres) when it has item titles, then prints the "
        "`mtrec run` command that trains on them.")
    prepare.add_argument("dataset", choices=[*movielens.DATASETS, "amazon-2014", "csv"],
                         help="source layout: a MovieLens release, Amazon's 2014 review CSVs, "
                         "or any CSV ('csv', with the column options below)")
    prepare.add_argument("--source", required=True, help="the unpacked dataset folder (MovieLens), "
                         "or a CSV file or folder of CSV files (amazon-2014, csv)")
    prepare.add_argument("--output", required=True, help="folder to write the canonical CSVs to")
    prepare.add_argument("--shards", type=int, default=1, metavar="N",
                         help="write the ratings as N files (rows dealt in turn) instead of one "
                         "ratings.csv, so that a distributed Beam runner (Flink) reads them in "
                         "parallel: TFX's ExampleGen reads each file in one worker (default 1)")
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


def _prepare(args: argparse.Namespace) -> int:
    from mtrec.data import generic_csv, movielens

    if args.dataset in movielens.DATASETS:
        counts = movielens.prepare(args.dataset, args.source, args.output,
                                   side_features=not args.no_side_features, shards=args.shards)
    else:
        counts = generic_csv.prepare(args.source, args.output, _column_mapping(args),
                                     generic_csv.CsvFormat(
                                         delimiter=args.delimiter.replace("\\t", "\t"),
                                         header=not args.no_header, encoding=args.encoding),
                                     shards=args.shards)
    print(f"wrote {counts.ratings} interactions ({counts.users} users, {counts.items} items) "
          f"to {args.output}/ratings/"
          + ("ratings.csv" if args.shards == 1 else f" ({args.shards} files)")
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
        raise UserFacingError("csv: --user-column and --item-column are required")
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
