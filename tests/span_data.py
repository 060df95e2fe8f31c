"""The embedded sample cut by time into spans, for the tests of scheduled retraining."""

from __future__ import annotations

import csv
import pathlib
from typing import List

SAMPLE = pathlib.Path(__file__).resolve().parent.parent / "data" / "sample" / "ratings" / "ratings.csv"


def write_spans(folder: pathlib.Path, spans: int = 3, drifted: int = 3) -> List[int]:
    """Writes folder/span-1 ... span-N/ratings.csv: the sample's rows by timestamp in
    `spans` equal parts, span `drifted`'s ratings all 1 (0: none). Returns the sizes."""
    with SAMPLE.open() as handle:
        reader = csv.DictReader(handle)
        rows = sorted(reader, key=lambda row: int(row["timestamp"]))
        fields = reader.fieldnames
    size = len(rows) // spans
    parts = [rows[i * size:(i + 1) * size] for i in range(spans - 1)] + [rows[(spans - 1) * size:]]
    for number, part in enumerate(parts, start=1):
        target = folder / f"span-{number}"
        target.mkdir(parents=True)
        with (target / "ratings.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows({**row, "rating": "1"} if number == drifted else row for row in part)
    return [len(part) for part in parts]
