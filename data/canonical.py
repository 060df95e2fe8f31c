"""Writes the canonical files every dataset reader produces (columns: docs/datasets.md).

    <output>/ratings/ratings.csv   user_id,item_id[,rating][,timestamp][,title,genres][,review_summary]
    <output>/items.csv             item_id,title,genres   (when the dataset has item titles)

Rows are written as they are read, so a file of any size streams through in
constant memory, to `.partial` files renamed into place at the end: a
preparation that fails leaves the output folder as it was; only the sets of distinct users and items are kept, for the
counts. Item side features are denormalised into every rating row so that
Transform sees them (the towers look them up per item).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime
import math
import pathlib
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.trainer_module.features import (GENRES, ITEM_ID, RATING, REVIEW_SUMMARY, TIMESTAMP,
                                           TITLE, USER_ID)

ITEM_COLUMNS = (ITEM_ID, TITLE, GENRES)


class DatasetError(UserFacingError, ValueError):
    """A dataset file is missing, unreadable or malformed; the message names file and line."""


@dataclasses.dataclass(frozen=True)
class PreparedCounts:
    ratings: int
    users: int
    items: int
    has_ratings: bool
    items_file: Optional[str]  # None when the dataset has no item titles


def require_file(path: pathlib.Path, what: str) -> pathlib.Path:
    """Returns `path`, or raises naming the file and what it should have been."""
    if not path.is_file():
        raise DatasetError(f"{path}: not found ({what})")
    return path


def parse_rating(value: str, where: str) -> float:
    """A finite float rating, or a DatasetError naming the file, line and column."""
    try:
        rating = float(value)
    except ValueError:
        raise DatasetError(f"{where}: column rating: {value!r} is not a number") from None
    if not math.isfinite(rating):
        raise DatasetError(f"{where}: column rating: {value!r} is not a finite number")
    return rating


def unix_seconds(text: str) -> int:
    """Unix seconds from an integer, a float or an ISO-8601 date/time (UTC when it
    has no zone); ValueError for anything else."""
    text = text.strip()
    for number in (int, float):
        try:
            return int(number(text))
        except (ValueError, OverflowError):  # not this kind of number; inf and nan overflow
            continue
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def parse_timestamp(value: str, where: str) -> int:
    """`unix_seconds`, or a DatasetError naming the file, line and column."""
    try:
        return unix_seconds(value)
    except ValueError:
        raise DatasetError(f"{where}: column timestamp: {value!r} is neither unix seconds nor "
                           f"an ISO-8601 date") from None


def decoded_lines(path: pathlib.Path, encoding: str,
                  hint: str = "name the file's encoding") -> Iterator[str]:
    """The file's lines, decoded one by one so that a decoding error names its line.

    Line ends are kept, so a csv.reader over these lines still sees newlines
    inside quoted fields (and counts lines in `line_num`). A UTF-8 file's
    byte-order mark (what Excel writes before the header) is dropped.
    """
    first_encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            try:
                yield raw.decode(first_encoding if line_number == 1 else encoding)
            except UnicodeDecodeError as error:
                raise DatasetError(f"{path}:{line_number}: not valid {encoding}: {error.reason} "
                                   f"at byte {error.start} ({hint})") from None


def csv_records(path: pathlib.Path, encoding: str, delimiter: str = ","
                ) -> Iterator[Tuple[int, list]]:
    """(line number, fields) for each CSV record; broken quoting names its line."""
    reader = csv.reader(decoded_lines(path, encoding), delimiter=delimiter, strict=True)
    try:
        for fields in reader:
            yield reader.line_num, fields
    except csv.Error as error:
        raise DatasetError(f"{path}:{reader.line_num}: malformed CSV: {error}") from None


def same_columns(header: Sequence[str], column_names: Sequence[str]) -> bool:
    """Whether a ratings file with this header can be read as `column_names`: the
    same names, each once, in any order (ExampleGen aligns them by name)."""
    return len(set(header)) == len(header) and sorted(header) == sorted(column_names)


def ratings_file_names(shards: int) -> List[str]:
    """The ratings files a prepare writes: ratings.csv, or `shards` numbered parts."""
    if not 1 <= shards <= 1024:
        raise DatasetError(f"--shards must be in 1..1024, got {shards}")
    if shards == 1:
        return ["ratings.csv"]
    return [f"ratings-{index:05d}-of-{shards:05d}.csv" for index in range(shards)]


class RatingsWriter:
    """Streams canonical rating rows into <output>/ratings/, atomically: one file,
    ratings.csv, or `shards` files (rows dealt in turn), which a distributed
    runner reads in parallel (TFX reads each CSV file in one worker).

    Rows go to `.partial` files beside them; `finish` renames them (and the
    items file) into place and removes ratings files an earlier prepare left
    there. Used as a context manager, a failure removes the partial files, so
    what the output folder held before is left as it was.
    """

    def __init__(self, output_dir: pathlib.Path, columns: Sequence[str], shards: int = 1):
        self.columns = tuple(columns)
        self.folder = output_dir / "ratings"
        self.paths = [self.folder / name for name in ratings_file_names(shards)]
        self.items_path = output_dir / "items.csv"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._handles = [_partial(path).open("w", newline="", encoding="utf-8")
                         for path in self.paths]
        self._writers = [csv.writer(handle, lineterminator="\n") for handle in self._handles]
        for writer in self._writers:
            writer.writerow(self.columns)
        self._users: set = set()
        self._items: set = set()
        self.count = 0

    def __enter__(self) -> "RatingsWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is not None:
            for handle, path in zip(self._handles, self.paths):
                handle.close()
                _partial(path).unlink(missing_ok=True)
            _partial(self.items_path).unlink(missing_ok=True)

    def write(self, row: Dict[str, object]) -> None:
        self._writers[self.count % len(self._writers)].writerow(
            [row.get(column, "") for column in self.columns])
        self._users.add(row[USER_ID])
        self._items.add(row[ITEM_ID])
        self.count += 1

    def finish(self, items: Optional[Iterable[Tuple[str, str, str]]]) -> PreparedCounts:
        """Writes items.csv from (item_id, title, genres) rows (None: the dataset has
        no titles, and a previous dataset's items.csv is removed), then publishes."""
        for handle in self._handles:
            handle.close()
        if self.count == 0:
            raise DatasetError(f"{self.folder}: the source held no ratings")
        if items is not None:
            with _partial(self.items_path).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(ITEM_COLUMNS)
                writer.writerows(items)
            _partial(self.items_path).replace(self.items_path)
        else:
            self.items_path.unlink(missing_ok=True)
        for path in self.paths:
            _partial(path).replace(path)
        for stale in set(self.folder.glob("ratings*.csv")) - set(self.paths):
            stale.unlink()
        return PreparedCounts(self.count, len(self._users), len(self._items),
                              RATING in self.columns,
                              str(self.items_path) if items is not None else None)


def _partial(path: pathlib.Path) -> pathlib.Path:
    """Where `path` is written before it is renamed into place (no *.csv match)."""
    return path.with_name(path.name + ".partial")


def ratings_columns(has_rating: bool, has_timestamp: bool, has_item_features: bool,
                    has_review_summary: bool) -> Tuple[str, ...]:
    """The canonical column order, keeping only what the dataset has."""
    columns = [USER_ID, ITEM_ID]
    columns += [RATING] if has_rating else []
    columns += [TIMESTAMP] if has_timestamp else []
    columns += [TITLE, GENRES] if has_item_features else []
    columns += [REVIEW_SUMMARY] if has_review_summary else []
    return tuple(columns)
