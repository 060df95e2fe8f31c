"""Record counts outside Beam (components/record_counts.py), against TFX's CSV
reader and TensorFlow's TFRecord reader."""

import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as csv_executor

from mtrec.components import record_counts


def _tfx_rows(path: str) -> int:
    """Rows TFX's CsvExampleGen turns into examples: its reader's records, less blank ones."""
    return sum(1 for record in csv_executor._ReadCsvRecordsFromTextFile().process(path)
               if record.strip("\r\n"))


def test_csv_records_as_tfx_reads_them(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("user_id,item_id,rating\nu1,i1,4\nu2,i2,5\r\n\nu3,i3,1")  # no final newline
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('user_id,item_id,title\nu1,i1,"one\nline, two\n\nthree"\n'
                      'u2,i2,"say ""hi"""\n\n\nu3,i3,plain\n')
    header_only = tmp_path / "empty.csv"
    header_only.write_text("user_id,item_id,rating\n")
    for path, rows in ((plain, 3), (quoted, 3), (header_only, 0)):
        assert record_counts.count_csv_records([str(path)]) == rows == _tfx_rows(str(path))
    assert record_counts.count_csv_records([str(plain), str(quoted), str(header_only)]) == 6


def test_gzip_tfrecords_as_tensorflow_reads_them(tmp_path):
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for count in (0, 1, 1000):
        path = str(tmp_path / f"{count}.gz")
        with tf.io.TFRecordWriter(path, options) as writer:
            for i in range(count):
                writer.write(b"x" * (i % 300))  # empty records too
        read = sum(1 for _ in tf.data.TFRecordDataset(path, compression_type="GZIP"))
        assert record_counts.count_gzip_tfrecords(path) == count == read
