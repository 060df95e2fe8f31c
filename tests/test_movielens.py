"""MovieLens readers: the real 100K and latest-small files in ../shared/data, and
small .dat fixtures (the 1M/10M layout) written by the tests themselves."""

import csv

import pytest

from mtrec.data import movielens
from mtrec.data.canonical import DatasetError


def _read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_prepare_100k_counts_and_columns(shared_data, tmp_path):
    counts = movielens.prepare("movielens-100k", str(shared_data / "ml-100k"), str(tmp_path))
    assert (counts.ratings, counts.users, counts.items) == (100_000, 943, 1682)
    rows = _read(tmp_path / "ratings" / "ratings.csv")
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp", "title", "genres"]
    assert {r["rating"] for r in rows} == {"1.0", "2.0", "3.0", "4.0", "5.0"}
    first = rows[0]  # u.data line 1: 196 242 3 881250949
    assert (first["user_id"], first["item_id"], first["timestamp"]) == ("196", "242", "881250949")
    assert first["title"] == "Kolya (1996)" and first["genres"] == "Comedy"
    items = {r["item_id"]: r for r in _read(tmp_path / "items.csv")}
    assert len(items) == 1682
    assert items["1"]["title"] == "Toy Story (1995)"
    assert items["1"]["genres"] == "Animation|Children's|Comedy"
    assert items["1633"]["title"].startswith("Á köldum klaka")  # latin-1 decoded


def test_prepare_latest_small_counts_and_columns(shared_data, tmp_path):
    counts = movielens.prepare("movielens-latest-small", str(shared_data / "ml-latest-small"),
                               str(tmp_path), side_features=False)
    assert (counts.ratings, counts.users, counts.items) == (100_836, 610, 9724)
    rows = _read(tmp_path / "ratings" / "ratings.csv")
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp"]
    assert not any("\r" in value for value in rows[-1].values())  # CRLF stripped
    assert {r["rating"] for r in rows} == {str(x / 2) for x in range(1, 11)}
    items = {r["item_id"]: r for r in _read(tmp_path / "items.csv")}
    assert len(items) == 9742  # movies.csv lists 18 movies nobody rated
    assert items["1"]["genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert items["182727"]["genres"] == ""  # "(no genres listed)"


@pytest.fixture()
def dat_folder(tmp_path):
    """The 1M/10M layout: '::'-separated, a latin-1 title (1M) and a UTF-8 one (10M)."""
    source = tmp_path / "ml-1m"
    source.mkdir()
    (source / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n".encode("latin-1")
        + "2::Á köldum klaka (1994)::Drama\n".encode("latin-1")
        + "3::Amélie (2001)::Comedy|Romance\n".encode("utf-8")
        + b"4::Unrated (2000)::(no genres listed)\n")
    (source / "ratings.dat").write_text("1::1::5::978300760\n1::2::3::978302109\n"
                                        "2::3::4::978301968\n2::1::4::978300275\n")
    return source


def test_prepare_dat_layout(dat_folder, tmp_path):
    counts = movielens.prepare("movielens-1m", str(dat_folder), str(tmp_path / "out"))
    assert (counts.ratings, counts.users, counts.items) == (4, 2, 3)
    rows = _read(tmp_path / "out" / "ratings" / "ratings.csv")
    assert [(r["user_id"], r["item_id"], r["rating"]) for r in rows] == [
        ("1", "1", "5.0"), ("1", "2", "3.0"), ("2", "3", "4.0"), ("2", "1", "4.0")]
    titles = {r["item_id"]: (r["title"], r["genres"]) for r in _read(tmp_path / "out" / "items.csv")}
    assert titles["2"] == ("Á köldum klaka (1994)", "Drama")
    assert titles["3"] == ("Amélie (2001)", "Comedy|Romance")
    assert titles["4"] == ("Unrated (2000)", "")


@pytest.mark.parametrize("ratings,message", [
    ("1::1::5\n", r"ratings.dat:1: expected 4 '::'-separated fields, got 3"),
    ("1::1::5::978300760\n1::1::five::978300760\n", r"ratings.dat:2: column rating: 'five' is not a number"),
    ("1::1::nan::978300760\n", r"ratings.dat:1: column rating: 'nan' is not a finite number"),
    ("1::9::5::978300760\n", r"ratings.dat:1: item '9' is not in the movie file"),
    ("1::1::5::yesterday\n", r"ratings.dat:1: column timestamp: 'yesterday' is neither"),
    ("1::1::5::inf\n", r"ratings.dat:1: column timestamp: 'inf' is neither"),
])
def test_malformed_dat_rows_name_file_line_and_column(dat_folder, tmp_path, ratings, message):
    (dat_folder / "ratings.dat").write_text(ratings)
    with pytest.raises(DatasetError, match=message):
        movielens.prepare("movielens-1m", str(dat_folder), str(tmp_path / "out"))


def test_missing_files_and_wrong_header(tmp_path):
    with pytest.raises(DatasetError, match=r"u.item: not found \(is --source the MovieLens 100K"):
        movielens.prepare("movielens-100k", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(DatasetError, match="not a folder"):
        movielens.prepare("movielens-25m", str(tmp_path / "nope"), str(tmp_path / "out"))
    (tmp_path / "movies.csv").write_text("id,name,genres\n1,A,Drama\n")
    with pytest.raises(DatasetError, match="movies.csv: expected the header movieId,title,genres"):
        movielens.prepare("movielens-25m", str(tmp_path), str(tmp_path / "out"))
