"""The Arrow CSV reader makes the records TFX's own CsvExampleGen reader makes."""

import os

import apache_beam as beam
import pyarrow as pa
import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as csv_executor

from mtrec.components import csv_records
from mtrec.components.csv_records import ColumnType
from mtrec.pipeline.config import SAMPLE_DIR


def tfx_records(folder: str, tmp_path) -> list:
    """TFX 1.16's CsvExampleGen conversion, serialized deterministically."""
    prefix = str(tmp_path / "tfx-records")
    with beam.Pipeline() as pipeline:
        _ = (pipeline
             | csv_executor._CsvToExample({"input_base": folder}, "*.csv")  # noqa: SLF001
             | beam.Map(lambda e: e.SerializeToString(deterministic=True))
             | beam.io.WriteToTFRecord(prefix))
    return sorted(record.numpy() for record in
                  tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(prefix + "*"))))


def arrow_records(folder: str) -> list:
    paths = sorted(tf.io.gfile.glob(os.path.join(folder, "*.csv")))
    names = csv_records.read_header(paths[0])
    types = csv_records.merge_types([csv_records.file_types(p, names) for p in paths])
    return sorted(record for path in paths
                  for _, block in csv_records.read_records(path, names, types) for record in block)


TRICKY_FIRST = (
    "user_id,item_id,rating,score,count,empty,note\n"
    "1,i1,5,0.5,7,,plain\n"
    "2,i2,4,-3,-12,,\"with, comma\"\n"
    "3,i3,,1e3, 8 ,,\"spans\nlines\"\n"
    "\n"
    "4,i4,3.5,.25,1_000,,\"say \"\"hi\"\"\"\n"
    "5,i5,2,nan,9223372036854775807,,ünïcode\r\n")
TRICKY_SECOND = (
    "user_id,item_id,rating,score,count,empty,note\n"
    "6,i6,1,inf,0042,,\n"
    "007,i7,5,+2.5,3,,last\n"
    "8,i8,4,2,1,," + "long " * 3000 + "\n")  # lengths past one varint byte


def test_tricky_files_give_tfx_s_records_byte_for_byte(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_text(TRICKY_FIRST, encoding="utf-8")
    (tmp_path / "csv" / "b.csv").write_text(TRICKY_SECOND, encoding="utf-8")
    expected = tfx_records(str(tmp_path / "csv"), tmp_path)
    assert len(expected) == 8
    assert arrow_records(str(tmp_path / "csv")) == expected


def test_the_embedded_sample_gives_tfx_s_records(tmp_path):
    ratings = str(SAMPLE_DIR / "ratings")
    assert arrow_records(ratings) == tfx_records(ratings, tmp_path)


@pytest.mark.parametrize("cells, expected", [
    (["1", "-2", "+3", ""], ColumnType.INT),
    (["1", "2.5"], ColumnType.FLOAT),
    ([" 7", "1_000"], ColumnType.INT),            # Python's int() accepts both
    (["1", "nan", "inf"], ColumnType.FLOAT),
    (["9223372036854775807"], ColumnType.INT),
    (["9223372036854775808"], ColumnType.STRING),  # past int64: TFX keeps it text
    (["1", "u1"], ColumnType.STRING),
    (["", ""], ColumnType.UNKNOWN),
])
def test_cell_types_follow_tfx_bsl_s_rule(cells, expected):
    assert csv_records.cell_type(pa.array(cells, pa.string())) == expected


def test_a_file_with_other_columns_is_refused_naming_it(tmp_path):
    (tmp_path / "b.csv").write_text("item_id,movie\ni2,u2\n")
    with pytest.raises(ValueError, match=r"b\.csv: columns item_id,movie are not the first "
                                         r"file's, user_id,item_id"):
        list(csv_records.read_records(str(tmp_path / "b.csv"), ["user_id", "item_id"],
                                      [ColumnType.STRING] * 2))
    (tmp_path / "c.csv").write_text("user_id,item_id,user_id\nu1,i1,u2\n")
    with pytest.raises(ValueError, match=r"c\.csv: columns user_id,item_id,user_id are not"):
        list(csv_records.read_records(str(tmp_path / "c.csv"), ["user_id", "item_id"],
                                      [ColumnType.STRING] * 2))


def test_reordered_columns_and_a_byte_order_mark_give_the_same_records(tmp_path):
    """What TFX refuses (columns in another order) or misreads (a BOM glued to
    the first column's name) gives the records of the plain file."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.csv").write_text(TRICKY_FIRST, encoding="utf-8")
    (tmp_path / "plain" / "b.csv").write_text(TRICKY_SECOND, encoding="utf-8")
    (tmp_path / "as-people-have-it").mkdir()
    (tmp_path / "as-people-have-it" / "a.csv").write_text(TRICKY_FIRST + "\n\n",
                                                         encoding="utf-8-sig")
    lines = TRICKY_SECOND.splitlines()
    order = [6, 2, 0, 1, 3, 5, 4]  # every column moved
    reordered = [",".join(line.split(",")[i] for i in order) for line in lines]
    (tmp_path / "as-people-have-it" / "b.csv").write_text("\n".join(reordered) + "\n")
    assert csv_records.read_header(str(tmp_path / "as-people-have-it" / "a.csv"))[0] == "user_id"
    expected = arrow_records(str(tmp_path / "plain"))
    assert len(expected) == 8
    assert arrow_records(str(tmp_path / "as-people-have-it")) == expected
