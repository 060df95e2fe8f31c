"""MovieLens 100K -> canonical CSVs.

`u.data` is tab-separated without a header (user, item, rating, timestamp);
`u.item` is '|'-separated latin-1 (id, title, release date, video release,
IMDb URL, then 19 genre flags in the order of `u.genre`).
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib

GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")


@dataclasses.dataclass(frozen=True)
class PreparedCounts:
    ratings: int
    users: int
    items: int


def _require(path: pathlib.Path) -> pathlib.Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is --source the MovieLens 100K folder?)")
    return path


def prepare_100k(source: str, output: str) -> PreparedCounts:
    """Writes <output>/ratings/ratings.csv and <output>/items.csv; returns counts."""
    source_dir, output_dir = pathlib.Path(source), pathlib.Path(output)
    (output_dir / "ratings").mkdir(parents=True, exist_ok=True)
    users, items, count = set(), set(), 0
    ratings_path = _require(source_dir / "u.data")
    with ratings_path.open(encoding="ascii") as raw, \
            (output_dir / "ratings" / "ratings.csv").open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for line_number, line in enumerate(raw, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                raise ValueError(f"{ratings_path}:{line_number}: expected 4 tab-separated "
                                 f"fields, got {len(fields)}")
            writer.writerow(fields)
            users.add(fields[0])
            items.add(fields[1])
            count += 1
    items_path = _require(source_dir / "u.item")
    with items_path.open(encoding="latin-1") as raw, \
            (output_dir / "items.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["item_id", "title", "genres"])
        for line_number, line in enumerate(raw, 1):
            fields = line.rstrip("\n").split("|")
            if len(fields) != 5 + len(GENRES_100K):
                raise ValueError(f"{items_path}:{line_number}: expected {5 + len(GENRES_100K)} "
                                 f"'|'-separated fields, got {len(fields)}")
            genres = [g for g, flag in zip(GENRES_100K, fields[5:]) if flag == "1"]
            writer.writerow([fields[0], fields[1], "|".join(genres)])
    return PreparedCounts(count, len(users), len(items))
