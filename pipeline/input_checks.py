"""Checks the run's input files and output folders before any component starts.

CsvExampleGen's own errors surface deep inside a Beam stack trace, and some
bad rows it does not report at all (a 7 on a 1-5 scale, a stray latin-1 byte,
a quote that swallows the next lines). These checks read every row of every
local input file once, streaming, and stop at the first problem with one line
naming the file, the row and the column. What they cannot see (remote files,
runs started by another orchestrator) the ExampleValidator still stops
(components/validation.py).

Duplicate (user, item) rows are not an error: ExampleGen keeps the latest by
timestamp (components/split_example_gen.py).
"""

from __future__ import annotations

import csv
import glob
import itertools
import math
import os
import pathlib
import tempfile
from typing import Iterator, List, Tuple

from mtrec.data.canonical import DatasetError, decoded_lines, same_columns
from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.pipeline.config import Config
from mtrec.trainer_module import features

MAX_ID_LENGTH = 1000  # longer ids are taken for a broken file, not an id
# Columns whose values are one line; free text (titles, reviews) may span lines.
_ONE_LINE_COLUMNS = (features.USER_ID, features.ITEM_ID, features.RATING, features.TIMESTAMP)
_REENCODE = ("the pipeline reads UTF-8: re-encode the file; a file of mixed encodings needs its "
             "rows fixed one by one")


class InputError(UserFacingError, ValueError):
    """An input file or folder is missing, empty, malformed or holds a bad value."""


def _records(path: str) -> Iterator[Tuple[int, int, List[str]]]:
    """(first line, last line, fields) of each CSV record, read as strict UTF-8."""
    reader = csv.reader(decoded_lines(pathlib.Path(path), "utf-8", hint=_REENCODE), strict=True)
    last = 0
    try:
        for fields in reader:
            yield last + 1, reader.line_num, fields
            last = reader.line_num
    except csv.Error as error:
        raise InputError(f"{_row(path, last + 1, max(last + 1, reader.line_num))}: malformed "
                         f"CSV: {error}") from None
    except DatasetError as error:  # decoded_lines: not UTF-8
        where, rest = str(error).split(": ", 1)  # "<path>:<line>", what went wrong
        line_number = int(where.rsplit(":", 1)[1])
        raise InputError(f"{where}{_bad_bytes_column(path, line_number)}: {rest}") from None


def _bad_bytes_column(path: str, line_number: int) -> str:
    """': column NAME' for the field holding the undecodable bytes on that line."""
    with open(path, "rb") as handle:
        header_line = handle.readline()
        bad_line = (header_line if line_number == 1
                    else next(itertools.islice(handle, line_number - 2, None), b""))
    header = next(csv.reader([header_line.decode("utf-8-sig", "replace")]), [])
    row = next(csv.reader([bad_line.decode("utf-8", "surrogateescape")]), [])
    for index, field in enumerate(row):
        if any("\udc80" <= char <= "\udcff" for char in field):
            name = header[index].strip() if index < len(header) else ""
            name = name if name and "\ufffd" not in name else f"#{index + 1}"
            return f": column {name}"
    return ""


def _row(path: str, first: int, last: int) -> str:
    return f"{path}:{first}" if first == last else f"{path}:{first}-{last}"


def read_header(path: str) -> List[str]:
    """The file's column names; raises InputError for an empty file or a name
    given twice."""
    return _header(path, next(_records(path), None))


def _header(path: str, header_record) -> List[str]:
    """The column names of the file's first record (None: the file has none)."""
    if header_record is None or not any(field.strip() for field in header_record[2]):
        raise InputError(f"{path}: the file is empty (expected a header row)")
    header = [name.strip() for name in header_record[2]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: column(s) {', '.join(repeated)} appear more than once in "
                         f"the header ({','.join(header)})")
    return header


def check_file(path: str, config: Config) -> int:
    """Reads every row of one ratings CSV; returns the number of data rows.

    Accepted as ExampleGen reads them (components/csv_records.py): a UTF-8
    byte-order mark, blank lines (skipped, not rows), quoted fields spanning
    lines outside the id, rating and timestamp columns.

    Raises InputError naming the file, the row (its line number) and the column
    of the first problem: an empty or header-only file, a missing required
    column or one named twice, a row with the wrong number of fields or broken
    quoting, an empty id or one over MAX_ID_LENGTH characters, a line break in
    an id, rating or timestamp (an unclosed quote upstream, most likely), a
    rating that is not a finite number in [data.rating_min, data.rating_max],
    a timestamp that is not an integer, bytes that are not UTF-8.
    """
    records = _records(path)
    header = _header(path, next(records, None))
    required = [features.USER_ID, features.ITEM_ID] + (
        [features.RATING] if config.data.has_ratings else [])
    missing = [column for column in required if column not in header]
    if missing:
        raise InputError(f"{path}: missing required column(s) {', '.join(missing)} "
                         f"(header is {','.join(header)})")
    for column, key in ([(c, "model.item_features") for c in config.model.item_features]
                        + [(c, "model.user_features") for c in config.model.user_features]):
        if column not in header:
            raise InputError(f"{path}: missing column {column!r}, enabled by {key} "
                             f"(header is {','.join(header)}); add the column or remove "
                             f"{column!r} from {key}")
    position = {name: index for index, name in enumerate(header)}
    low, high = config.data.rating_min, config.data.rating_max
    rows = 0
    for first, last, fields in records:
        where = _row(path, first, last)
        if not fields:
            continue  # a blank line: ExampleGen skips it too
        if len(fields) != len(header):
            raise InputError(f"{where}: {len(fields)} fields, the header has {len(header)} "
                             f"(a missing or extra delimiter? quote fields holding commas)")
        rows += 1
        if last > first:
            for column in _ONE_LINE_COLUMNS:
                if column in position and any(
                        end in fields[position[column]] for end in ("\n", "\r")):
                    raise InputError(f"{where}: column {column} holds a line break (a "
                                     f"quote left open on line {first}?)")
        for column in (features.USER_ID, features.ITEM_ID):
            value = fields[position[column]]
            if not value.strip():
                raise InputError(f"{where}: column {column} is empty")
            if len(value) > MAX_ID_LENGTH:
                raise InputError(f"{where}: column {column}: an id of {len(value)} characters, "
                                 f"over the limit of {MAX_ID_LENGTH}")
        if config.data.has_ratings:
            raw = fields[position[features.RATING]].strip()
            try:
                rating = float(raw)
            except ValueError:
                raise InputError(f"{where}: column rating: {raw!r} is not a number"
                                 + (" (data.has_ratings = false for implicit data)"
                                    if not raw else "")) from None
            if not math.isfinite(rating):
                raise InputError(f"{where}: column rating: {raw!r} is not a finite number")
            if not low <= rating <= high:
                raise InputError(f"{where}: column rating: {raw} is outside [{low:g}, {high:g}] "
                                 f"(data.rating_min, data.rating_max)")
        if features.TIMESTAMP in position:
            raw = fields[position[features.TIMESTAMP]].strip()
            if raw and not raw.lstrip("-").isdigit():
                raise InputError(f"{where}: column timestamp: {raw!r} is not unix seconds "
                                 f"(an integer; mtrec data prepare converts ISO dates)")
    if rows == 0:
        raise InputError(f"{path}: header only, no ratings")
    return rows


def newest_span_pattern(ratings_dir: str, file_pattern: str) -> str:
    """`file_pattern` with its span spec filled in for the newest span, found the way
    ExampleGen's driver finds it (TFX's own function)."""
    from tfx.components.example_gen import utils as example_gen_utils
    from tfx.proto import example_gen_pb2

    split = example_gen_pb2.Input.Split(name="all", pattern=file_pattern)
    try:
        example_gen_utils.calculate_splits_fingerprint_span_and_version(ratings_dir, [split])
    except ValueError as error:
        raise InputError(f"{ratings_dir}: no span matches {file_pattern!r} "
                         f"(data.file_pattern): {error}") from error
    return split.pattern


def check_inputs(config: Config) -> None:
    """Raises InputError naming the file, row and column of the first problem found."""
    ratings_dir = config.data.ratings_dir
    if "://" in ratings_dir:
        return  # remote storage: the ExampleValidator checks what ExampleGen reads
    if not os.path.isdir(ratings_dir):
        raise InputError(f"{ratings_dir}: ratings folder not found (data.ratings_dir / --data-dir)")
    pattern = config.data.file_pattern
    if config.data.uses_spans():
        pattern = newest_span_pattern(ratings_dir, pattern)
    files = sorted(glob.glob(os.path.join(ratings_dir, pattern)))
    if not files:
        raise InputError(f"{ratings_dir}: no file matches {pattern!r}")
    first_header = read_header(files[0])
    for path in files:
        header = read_header(path)
        if not same_columns(header, first_header):
            raise InputError(f"{path}: its columns ({','.join(header)}) are not those of "
                             f"{files[0]} ({','.join(first_header)}); every file in the ratings "
                             f"folder needs the same columns, in any order")
        check_file(path, config)
    items_file = config.data.items_file
    if items_file and "://" not in items_file:
        if not os.path.isfile(items_file):
            raise InputError(f"{items_file}: items file not found (data.items_file / --items-file; "
                             f"'' for none)")
        header = next(_records(items_file), (0, 0, []))[2]
        missing = [c for c in (features.ITEM_ID, "title") if c not in [h.strip() for h in header]]
        if missing:
            raise InputError(f"{items_file}: missing required column(s) {', '.join(missing)}")


def check_output_dirs(config: Config) -> None:
    """Creates the pipeline root and the serving folder, or raises InputError naming
    the folder and its config key when either cannot be written."""
    for path, key in ((config.pipeline_root, "pipeline_root / --pipeline-root"),
                      (config.serving.serving_dir, "serving.serving_dir / --serving-dir")):
        if "://" in path:
            continue
        try:
            os.makedirs(path, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as error:
            raise InputError(f"{path}: cannot write there ({key}): "
                             f"{error.strerror or error}") from None
