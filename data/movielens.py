"""MovieLens, in its three file layouts, -> canonical CSVs (data/canonical.py).

- 100K: `u.data` tab-separated without a header (user, item, rating,
  timestamp); `u.item` '|'-separated latin-1 (id, title, release date, video
  release, IMDb URL, then 19 genre flags in the order of `u.genre`).
- 1M and 10M: `ratings.dat` and `movies.dat`, '::'-separated without a header
  (UserID::MovieID::Rating::Timestamp, MovieID::Title::Genres); 1M's titles
  are latin-1, 10M's UTF-8.
- latest-small, 20M, 25M, 32M: `ratings.csv` (userId,movieId,rating,timestamp)
  and `movies.csv` (movieId,title,genres), CRLF line endings, quoted titles.

Genres become one '|'-separated string; "(no genres listed)" becomes empty.
"""

from __future__ import annotations

import pathlib
from typing import Callable, Dict, Iterator, Tuple

from mtrec.data.canonical import (GENRES, ITEM_ID, RATING, TIMESTAMP, TITLE, USER_ID,
                                  DatasetError, PreparedCounts, RatingsWriter, csv_records,
                                  decoded_lines, parse_rating, parse_timestamp, ratings_columns,
                                  require_file)

GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")
NO_GENRES = "(no genres listed)"

# An item: (title, genres). A rating: (user, item, rating, timestamp) as strings.
Items = Dict[str, Tuple[str, str]]
RatingFields = Tuple[str, str, str, str]


def _split_lines(path: pathlib.Path, separator: str, field_count: int, encoding: str
                 ) -> Iterator[Tuple[str, list]]:
    """('file:line', fields) for each non-empty line, checking the field count."""
    for line_number, line in enumerate(decoded_lines(path, encoding), 1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        fields = line.split(separator)
        if len(fields) != field_count:
            raise DatasetError(f"{path}:{line_number}: expected {field_count} "
                               f"{separator!r}-separated fields, got {len(fields)}")
        yield f"{path}:{line_number}", fields


def _dat_text(raw: bytes) -> str:
    """1M's movies.dat is latin-1 and 10M's UTF-8: UTF-8 first, latin-1 for the rest."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _items_100k(source: pathlib.Path) -> Items:
    path = require_file(source / "u.item", "is --source the MovieLens 100K folder?")
    items = {}
    for _, fields in _split_lines(path, "|", 5 + len(GENRES_100K), "latin-1"):
        genres = [genre for genre, flag in zip(GENRES_100K, fields[5:]) if flag == "1"]
        items[fields[0]] = (fields[1], "|".join(genres))
    return items


def _ratings_100k(source: pathlib.Path) -> Iterator[Tuple[str, RatingFields]]:
    path = require_file(source / "u.data", "is --source the MovieLens 100K folder?")
    for where, fields in _split_lines(path, "\t", 4, "ascii"):
        yield where, tuple(fields)


def _dat_items(source: pathlib.Path) -> Items:
    path = require_file(source / "movies.dat", "is --source a MovieLens 1M or 10M folder?")
    items = {}
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            line = _dat_text(raw).rstrip("\r\n")
            if not line:
                continue
            fields = line.split("::")
            if len(fields) != 3:
                raise DatasetError(f"{path}:{line_number}: expected 3 '::'-separated fields, "
                                   f"got {len(fields)}")
            items[fields[0]] = (fields[1], "" if fields[2] == NO_GENRES else fields[2])
    return items


def _dat_ratings(source: pathlib.Path) -> Iterator[Tuple[str, RatingFields]]:
    path = require_file(source / "ratings.dat", "is --source a MovieLens 1M or 10M folder?")
    for where, fields in _split_lines(path, "::", 4, "ascii"):
        yield where, tuple(fields)


def _csv_records(path: pathlib.Path, header: Tuple[str, ...]) -> Iterator[Tuple[str, list]]:
    rows = csv_records(path, "utf-8")
    _, first = next(rows, (0, None))
    if first is None or tuple(first) != header:
        raise DatasetError(f"{path}: expected the header {','.join(header)}, got "
                           f"{','.join(first or []) or 'an empty file'}")
    for line_number, fields in rows:
        if len(fields) != len(header):
            raise DatasetError(f"{path}:{line_number}: expected {len(header)} fields, "
                               f"got {len(fields)}")
        yield f"{path}:{line_number}", fields


def _csv_items(source: pathlib.Path) -> Items:
    path = require_file(source / "movies.csv", "is --source a MovieLens latest/25M/32M folder?")
    return {fields[0]: (fields[1], "" if fields[2] == NO_GENRES else fields[2])
            for _, fields in _csv_records(path, ("movieId", "title", "genres"))}


def _csv_ratings(source: pathlib.Path) -> Iterator[Tuple[str, RatingFields]]:
    path = require_file(source / "ratings.csv", "is --source a MovieLens latest/25M/32M folder?")
    for where, fields in _csv_records(path, ("userId", "movieId", "rating", "timestamp")):
        yield where, tuple(fields)


# Layout name -> (items reader, ratings reader).
LAYOUTS: Dict[str, Tuple[Callable[[pathlib.Path], Items],
                         Callable[[pathlib.Path], Iterator[Tuple[str, RatingFields]]]]] = {
    "100k": (_items_100k, _ratings_100k),
    "dat": (_dat_items, _dat_ratings),
    "csv": (_csv_items, _csv_ratings),
}

# `mtrec data prepare` dataset names -> layout.
DATASETS = {
    "movielens-100k": "100k",
    "movielens-1m": "dat",
    "movielens-10m": "dat",
    "movielens-latest-small": "csv",
    "movielens-20m": "csv",
    "movielens-25m": "csv",
    "movielens-32m": "csv",
}


def prepare(dataset: str, source: str, output: str, side_features: bool = True,
            shards: int = 1) -> PreparedCounts:
    """Converts a MovieLens folder into <output>/ratings/ (ratings.csv, or `shards`
    files: canonical.RatingsWriter) and <output>/items.csv.

    With `side_features`, every rating row also carries its movie's title and
    genres. A rating whose movie is missing from the movie file is an error.
    """
    read_items, read_ratings = LAYOUTS[DATASETS[dataset]]
    source_dir, output_dir = pathlib.Path(source), pathlib.Path(output)
    if not source_dir.is_dir():
        raise DatasetError(f"{source_dir}: not a folder (--source should be the unpacked "
                           f"{dataset} folder)")
    items = read_items(source_dir)
    with RatingsWriter(output_dir, ratings_columns(True, True, side_features, False),
                       shards) as writer:
        for where, (user, item, rating, timestamp) in read_ratings(source_dir):
            row = {USER_ID: user, ITEM_ID: item, RATING: parse_rating(rating, where),
                   TIMESTAMP: parse_timestamp(timestamp, where)}
            if side_features:
                if item not in items:
                    raise DatasetError(f"{where}: item {item!r} is not in the movie file")
                row[TITLE], row[GENRES] = items[item]
            writer.write(row)
        return writer.finish((item, title, genres) for item, (title, genres) in items.items())
