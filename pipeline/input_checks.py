"""Checks the run's input files before any component starts.

CsvExampleGen's own errors surface deep inside a Beam stack trace; these
checks catch the common mistakes first and name the file and column.
"""

from __future__ import annotations

import csv
import glob
import os

from mtrec.pipeline.errors import UserFacingError
from mtrec.pipeline.config import Config
from mtrec.trainer_module import features


class InputError(UserFacingError, ValueError):
    """An input file or folder is missing, empty or lacks a required column."""


def _header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InputError(f"{path}: the file is empty (expected a header row)")
    return [name.strip() for name in header]


def check_inputs(config: Config) -> None:
    """Raises InputError naming the file and column of the first problem found."""
    ratings_dir = config.data.ratings_dir
    if "://" in ratings_dir:
        return  # remote storage: CsvExampleGen reads and reports
    if not os.path.isdir(ratings_dir):
        raise InputError(f"{ratings_dir}: ratings folder not found (data.ratings_dir / --data-dir)")
    files = sorted(glob.glob(os.path.join(ratings_dir, config.data.file_pattern)))
    if not files:
        raise InputError(f"{ratings_dir}: no file matches {config.data.file_pattern!r}")
    required = [features.USER_ID, features.ITEM_ID] + ([features.RATING] if config.data.has_ratings else [])
    side_features = ([(column, "model.item_features") for column in config.model.item_features]
                     + [(column, "model.user_features") for column in config.model.user_features])
    for path in files:
        header = _header(path)
        missing = [column for column in required if column not in header]
        if missing:
            raise InputError(f"{path}: missing required column(s) {', '.join(missing)} "
                             f"(header is {','.join(header)})")
        for column, key in side_features:
            if column not in header:
                raise InputError(f"{path}: missing column {column!r}, enabled by {key} "
                                 f"(header is {','.join(header)}); add the column or remove "
                                 f"{column!r} from {key}")
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            next(reader)
            if next(reader, None) is None:
                raise InputError(f"{path}: header only, no ratings")
    items_file = config.data.items_file
    if items_file and "://" not in items_file:
        if not os.path.isfile(items_file):
            raise InputError(f"{items_file}: items file not found (data.items_file / --items-file; "
                             f"'' for none)")
        missing = [c for c in (features.ITEM_ID, "title") if c not in _header(items_file)]
        if missing:
            raise InputError(f"{items_file}: missing required column(s) {', '.join(missing)}")
