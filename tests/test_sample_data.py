"""The embedded sample: reproducible from its generator, with planted structure."""

import collections
import csv
import filecmp

import numpy as np

from mtrec.data import generate_sample
from mtrec.pipeline.config import SAMPLE_DIR


def test_committed_sample_is_what_the_generator_writes(tmp_path):
    generate_sample.main(["--output-dir", str(tmp_path)])
    assert filecmp.cmp(tmp_path / "ratings" / "ratings.csv", SAMPLE_DIR / "ratings" / "ratings.csv",
                       shallow=False)
    assert filecmp.cmp(tmp_path / "items.csv", SAMPLE_DIR / "items.csv", shallow=False)


def test_sample_shape_and_columns():
    with open(SAMPLE_DIR / "ratings" / "ratings.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp"]
    assert 5_000 <= len(rows) <= 12_000
    ratings = collections.Counter(int(r["rating"]) for r in rows)
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert len({(r["user_id"], r["item_id"]) for r in rows}) == len(rows)  # no duplicates
    with open(SAMPLE_DIR / "items.csv") as handle:
        items = {r["item_id"]: r for r in csv.DictReader(handle)}
    assert {r["item_id"] for r in rows} <= set(items)
    assert all(item["title"] for item in items.values())


def test_popularity_is_skewed_but_not_everything():
    with open(SAMPLE_DIR / "ratings" / "ratings.csv") as handle:
        counts = np.array(sorted(collections.Counter(r["item_id"] for r in csv.DictReader(handle))
                                 .values(), reverse=True))
    top_decile_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert 0.3 < top_decile_share < 0.8  # a power law, so popularity is a real baseline
