"""The column-mapped CSV reader: Amazon's 2014 layout, header-less files,
implicit-only data and malformed input, on fixtures the tests write."""

import csv

import pytest

from mtrec.data import generic_csv
from mtrec.data.canonical import DatasetError
from mtrec.pipeline import cli

# Amazon 2014 as pandas writes it: a leading unnamed index column, CRLF line
# endings, quoted fields holding commas, quotes and newlines.
AMAZON = (
    ',reviewerID,asin,reviewerName,helpful,reviewText,overall,summary,unixReviewTime,reviewTime\r\n'
    '0,A1,B001,"Smith, J","[0, 0]","Great, really.\r\nSecond line",5.0,"Loved it, ""truly""",'
    '1393545600,"02 28, 2014"\r\n'
    '1,A2,B001,Kim,"[1, 2]",Meh,3.0,Fine,1363392000,"03 16, 2013"\r\n'
    '2,A1,B002,"Smith, J","[0, 0]",,1.0,,1374969600,"07 28, 2013"\r\n'
)


def _read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_amazon_2014_layout(tmp_path):
    source = tmp_path / "reviews.csv"
    source.write_bytes(AMAZON.encode("utf-8"))
    counts = generic_csv.prepare(str(source), str(tmp_path / "out"), generic_csv.AMAZON_2014)
    assert (counts.ratings, counts.users, counts.items) == (3, 2, 2)
    assert counts.has_ratings and counts.items_file is None
    rows = _read(tmp_path / "out" / "ratings" / "ratings.csv")
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp", "review_summary"]
    assert rows[0] == {"user_id": "A1", "item_id": "B001", "rating": "5.0",
                       "timestamp": "1393545600", "review_summary": 'Loved it, "truly"'}
    assert rows[2]["review_summary"] == ""


def test_a_byte_order_mark_before_the_header_is_dropped(tmp_path):
    source = tmp_path / "clicks.csv"
    source.write_text("visitor,product,ts\nv1,p1,1\nv2,p1,3\n", encoding="utf-8-sig")  # Excel
    mapping = generic_csv.ColumnMapping(user="visitor", item="product", timestamp="ts")
    counts = generic_csv.prepare(str(source), str(tmp_path / "out"), mapping)
    assert (counts.ratings, counts.users, counts.items) == (2, 2, 1)


def test_headerless_tab_separated_with_titles_and_iso_dates(tmp_path):
    source = tmp_path / "logs"
    source.mkdir()
    (source / "a.tsv").write_text("u1\ti1\t4\t2024-01-02T00:00:00Z\tThe Item, 2nd ed.\n"
                                  "u2\ti2\t2.5\t2024-01-03\tOther\n", encoding="latin-1")
    (source / "b.tsv").write_text("u1\ti2\t1\t1700000000\tOther\n", encoding="latin-1")
    mapping = generic_csv.ColumnMapping(user="0", item="1", rating="2", timestamp="3", title="4")
    fmt = generic_csv.CsvFormat(delimiter="\t", header=False, encoding="latin-1")
    counts = generic_csv.prepare(str(source), str(tmp_path / "out"), mapping, fmt)
    assert (counts.ratings, counts.users, counts.items) == (3, 2, 2)
    rows = _read(tmp_path / "out" / "ratings" / "ratings.csv")
    assert [r["timestamp"] for r in rows] == ["1704153600", "1704240000", "1700000000"]
    assert rows[0]["title"] == "The Item, 2nd ed." and rows[0]["genres"] == ""
    items = _read(tmp_path / "out" / "items.csv")
    assert [(r["item_id"], r["title"]) for r in items] == [("i1", "The Item, 2nd ed."),
                                                           ("i2", "Other")]


def test_implicit_only_data_has_no_rating_column(tmp_path):
    source = tmp_path / "clicks.csv"
    source.write_text("visitor,product,ts\nv1,p1,1\nv1,p2,2\nv2,p1,3\n")
    mapping = generic_csv.ColumnMapping(user="visitor", item="product", timestamp="ts")
    counts = generic_csv.prepare(str(source), str(tmp_path / "out"), mapping)
    assert not counts.has_ratings
    rows = _read(tmp_path / "out" / "ratings" / "ratings.csv")
    assert list(rows[0]) == ["user_id", "item_id", "timestamp"] and len(rows) == 3


def test_shards_deal_the_rows_and_replace_an_earlier_prepare_s_files(tmp_path):
    source = tmp_path / "clicks.csv"
    source.write_text("visitor,product,ts\n" + "".join(f"v{n},p{n % 4},{n}\n" for n in range(7)))
    mapping = generic_csv.ColumnMapping(user="visitor", item="product", timestamp="ts")
    ratings = tmp_path / "out" / "ratings"
    generic_csv.prepare(str(source), str(tmp_path / "out"), mapping)
    single = _read(ratings / "ratings.csv")
    counts = generic_csv.prepare(str(source), str(tmp_path / "out"), mapping, shards=3)
    files = sorted(ratings.glob("*.csv"))
    assert [f.name for f in files] == [f"ratings-0000{i}-of-00003.csv" for i in range(3)]
    assert [len(_read(f)) for f in files] == [3, 2, 2] and counts.ratings == 7
    assert sorted(row["user_id"] for f in files for row in _read(f)) == sorted(
        row["user_id"] for row in single)
    generic_csv.prepare(str(source), str(tmp_path / "out"), mapping)  # back to one file
    assert [f.name for f in ratings.glob("*.csv")] == ["ratings.csv"]
    with pytest.raises(DatasetError, match="--shards must be in 1..1024"):
        generic_csv.prepare(str(source), str(tmp_path / "out"), mapping, shards=0)


@pytest.mark.parametrize("content,mapping,message", [
    ("user,item\n1,2\n", generic_csv.ColumnMapping("user", "product"),
     r"r.csv: no column 'product' \(mapped to item_id\); the header is user,item"),
    ("user,item,stars\n1,2,3\n4,5\n", generic_csv.ColumnMapping("user", "item", rating="stars"),
     r"r.csv:3: expected 3 fields, got 2"),
    ("user,item,stars\n1,2,lots\n", generic_csv.ColumnMapping("user", "item", rating="stars"),
     r"r.csv:2: column rating: 'lots' is not a number"),
    ("user,item\n1,\n", generic_csv.ColumnMapping("user", "item"),
     r"r.csv:2: column item \(item_id\) is empty"),
    ('user,item\n1,"2\n', generic_csv.ColumnMapping("user", "item"), r"r.csv:\d+: malformed CSV"),
    ("", generic_csv.ColumnMapping("user", "item"), r"r.csv: the file is empty"),
    ("user,item\n", generic_csv.ColumnMapping("user", "item"), r"the source held no ratings"),
])
def test_bad_input_names_file_line_and_column(tmp_path, content, mapping, message):
    (tmp_path / "r.csv").write_text(content)
    with pytest.raises(DatasetError, match=message):
        generic_csv.prepare(str(tmp_path / "r.csv"), str(tmp_path / "out"), mapping)


def test_a_failed_preparation_leaves_the_previous_output_as_it_was(tmp_path):
    (tmp_path / "good.csv").write_text("user,item,title\nu1,i1,One\n")
    (tmp_path / "bad.csv").write_text("user,item,title\nu2,i2,Two\nu3,,Three\n")
    mapping = generic_csv.ColumnMapping("user", "item", title="title")
    generic_csv.prepare(str(tmp_path / "good.csv"), str(tmp_path / "out"), mapping)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    with pytest.raises(DatasetError, match=r"bad.csv:3: column item \(item_id\) is empty"):
        generic_csv.prepare(str(tmp_path / "bad.csv"), str(tmp_path / "out"), mapping)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before and set(before) == {"ratings.csv", "items.csv"}


def test_wrong_encoding_names_the_line(tmp_path):
    (tmp_path / "r.csv").write_bytes("user,item\nu1,i1\nu2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"r.csv:3: not valid utf-8"):
        generic_csv.prepare(str(tmp_path / "r.csv"), str(tmp_path / "out"),
                            generic_csv.ColumnMapping("user", "item"))


def test_cli_prepare_csv_prints_the_run_command(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("who,what\na,b\n")
    code = cli.main(["data", "prepare", "csv", "--source", str(tmp_path / "r.csv"),
                     "--output", str(tmp_path / "out"), "--user-column", "who",
                     "--item-column", "what"])
    out = capsys.readouterr().out
    assert code == 0 and "--set data.has_ratings=false" in out
    code = cli.main(["data", "prepare", "csv", "--source", str(tmp_path / "r.csv"),
                     "--output", str(tmp_path / "out")])
    assert code == 2 and "--user-column and --item-column are required" in capsys.readouterr().err
