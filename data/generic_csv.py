"""Any ratings CSV, described by a column mapping, -> canonical CSVs.

A `ColumnMapping` says which source column is the user, the item and,
optionally, the rating (none: implicit-only data), the timestamp, the item
title and the review text. Columns are named by header, or by 0-based
position for a file without a header. Amazon's 2014 review CSVs are one such
mapping (`AMAZON_2014`); their optional leading pandas index column is
skipped because columns are taken by name.

The source may be one file or a folder of files with the same layout. Quoted
fields may hold the delimiter and newlines.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import sys
from typing import Dict, Iterator, List, Optional

from mtrec.data.canonical import (GENRES, ITEM_ID, RATING, REVIEW_SUMMARY, TIMESTAMP, TITLE,
                                  USER_ID, DatasetError, PreparedCounts, RatingsWriter,
                                  csv_records, parse_rating, parse_timestamp,
                                  ratings_columns)


@dataclasses.dataclass(frozen=True)
class ColumnMapping:
    """Source column (a header name, or a 0-based index when there is no header) per role."""

    user: str
    item: str
    rating: Optional[str] = None
    timestamp: Optional[str] = None
    title: Optional[str] = None
    text: Optional[str] = None  # review text on the user side -> review_summary

    def roles(self) -> Dict[str, str]:
        """Canonical column -> source column, for the roles that are mapped."""
        pairs = {USER_ID: self.user, ITEM_ID: self.item, RATING: self.rating,
                 TIMESTAMP: self.timestamp, TITLE: self.title, REVIEW_SUMMARY: self.text}
        return {canonical: source for canonical, source in pairs.items() if source is not None}


# reviewerID,asin,reviewerName,helpful,reviewText,overall,summary,unixReviewTime,reviewTime
AMAZON_2014 = ColumnMapping(user="reviewerID", item="asin", rating="overall",
                            timestamp="unixReviewTime", text="summary")


@dataclasses.dataclass(frozen=True)
class CsvFormat:
    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"


def _source_files(source: pathlib.Path) -> List[pathlib.Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
        if files:
            return files
        raise DatasetError(f"{source}: the folder holds no files")
    raise DatasetError(f"{source}: no such file or folder (--source)")


def _column_positions(path: pathlib.Path, header: Optional[List[str]], roles: Dict[str, str]
                      ) -> Dict[str, int]:
    """Canonical column -> position in the row, from the header or the given indices."""
    positions = {}
    for canonical, source in roles.items():
        if header is None:
            if not source.isdigit():
                raise DatasetError(f"{path}: the file has no header, so the {canonical} column "
                                   f"must be a 0-based index, got {source!r}")
            positions[canonical] = int(source)
        elif source in header:
            positions[canonical] = header.index(source)
        else:
            raise DatasetError(f"{path}: no column {source!r} (mapped to {canonical}); the "
                               f"header is {','.join(header)}")
    return positions


def _rows(path: pathlib.Path, mapping: ColumnMapping, fmt: CsvFormat) -> Iterator[Dict[str, object]]:
    roles = mapping.roles()
    records = csv_records(path, fmt.encoding, fmt.delimiter)
    header = None
    if fmt.header:
        _, header = next(records, (0, None))
        if header is None:
            raise DatasetError(f"{path}: the file is empty (expected a header row)")
        header = [name.strip() for name in header]
    positions = _column_positions(path, header, roles)
    width = max(positions.values()) + 1
    for line_number, fields in records:
        if not fields:
            continue
        where = f"{path}:{line_number}"
        if len(fields) < width or (header is not None and len(fields) != len(header)):
            expected = len(header) if header is not None else f"at least {width}"
            raise DatasetError(f"{where}: expected {expected} fields, got {len(fields)}")
        row: Dict[str, object] = {c: fields[p] for c, p in positions.items()}
        for column in (USER_ID, ITEM_ID):
            if not str(row[column]).strip():
                raise DatasetError(f"{where}: column {roles[column]} ({column}) is empty")
        if RATING in row:
            row[RATING] = parse_rating(str(row[RATING]), where)
        if TIMESTAMP in row:
            row[TIMESTAMP] = parse_timestamp(str(row[TIMESTAMP]), where)
        yield row


def prepare(source: str, output: str, mapping: ColumnMapping,
            fmt: CsvFormat = CsvFormat(), shards: int = 1) -> PreparedCounts:
    """Streams every file under `source` into canonical CSVs under `output`
    (`shards` ratings files; canonical.RatingsWriter).

    With a title column, items.csv holds each item's first title seen (genres
    empty); without one there is no items file.
    """
    _check_text_size()
    files = _source_files(pathlib.Path(source))
    output_dir = pathlib.Path(output)
    roles = mapping.roles()
    has_title = TITLE in roles
    titles: Dict[str, str] = {}
    with RatingsWriter(output_dir, ratings_columns(
            RATING in roles, TIMESTAMP in roles, has_title, REVIEW_SUMMARY in roles),
            shards) as writer:
        for path in files:
            for row in _rows(path, mapping, fmt):
                if has_title:
                    row.setdefault(GENRES, "")
                    titles.setdefault(str(row[ITEM_ID]), str(row[TITLE]))
                writer.write(row)
        return writer.finish(((item, title, "") for item, title in titles.items())
                             if has_title else None)


def _check_text_size() -> None:
    """Review texts can exceed the csv module's 128 KiB default field limit."""
    if csv.field_size_limit() < 2 ** 24:
        csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))
