"""MovieLens 100K preparation, on the real files in ../shared/data."""

import csv

import pytest

from mtrec.data import movielens


def test_prepare_100k_counts_and_columns(shared_data, tmp_path):
    counts = movielens.prepare_100k(str(shared_data / "ml-100k"), str(tmp_path))
    assert (counts.ratings, counts.users, counts.items) == (100_000, 943, 1682)
    with open(tmp_path / "ratings" / "ratings.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp"]
    assert {r["rating"] for r in rows} == {"1", "2", "3", "4", "5"}
    with open(tmp_path / "items.csv", encoding="utf-8") as handle:
        items = {r["item_id"]: r for r in csv.DictReader(handle)}
    assert len(items) == 1682
    assert items["1"]["title"] == "Toy Story (1995)"
    assert items["1"]["genres"] == "Animation|Children's|Comedy"
    assert items["1633"]["title"].startswith("Á köldum klaka")  # latin-1 decoded


def test_prepare_100k_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="u.data: not found"):
        movielens.prepare_100k(str(tmp_path), str(tmp_path / "out"))
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n5\t6\t7\n")
    with pytest.raises(ValueError, match=r"u.data:2: expected 4 tab-separated fields, got 3"):
        movielens.prepare_100k(str(tmp_path), str(tmp_path / "out"))
