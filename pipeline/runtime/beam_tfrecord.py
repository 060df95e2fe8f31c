"""Beam's TFRecord source, reading with TensorFlow's C++ record reader.

`apache_beam.io.tfrecordio._TFRecordSource.read_records` parses every record
in Python: its length, two masked CRCs, each read through Beam's Python gzip
buffer. StatisticsGen, Transform and the Evaluator read ExampleGen's records
through it, and it was a sizeable share of their time (the profile in
docs/benchmarks.md). `install` replaces it, for local files that are gzipped
or uncompressed, with `tf.compat.v1.io.tf_record_iterator`, which checks the
same CRCs in C++; other files keep Beam's own method. The records, and the
component boundary counts that check them, are unchanged.
"""

from __future__ import annotations

from apache_beam.io import tfrecordio
from apache_beam.io.filesystem import CompressionTypes

_BEAM_READ_RECORDS = tfrecordio._TFRecordSource.read_records  # noqa: SLF001
_TF_COMPRESSION = {CompressionTypes.GZIP: "GZIP", CompressionTypes.UNCOMPRESSED: ""}


def _read_records(self, file_name, offset_range_tracker):
    compression = self._compression_type
    if compression == CompressionTypes.AUTO:
        compression = CompressionTypes.detect_compression_type(file_name)
    tf_compression = _TF_COMPRESSION.get(compression)
    if tf_compression is None or "://" in file_name or offset_range_tracker.start_position():
        yield from _BEAM_READ_RECORDS(self, file_name, offset_range_tracker)
        return
    # The source is unsplittable: the one claim at 0 covers the whole file.
    if not offset_range_tracker.try_claim(0):
        raise RuntimeError(f"Unable to claim position 0 of {file_name}")
    import tensorflow as tf

    options = tf.io.TFRecordOptions(compression_type=tf_compression)
    for record in tf.compat.v1.io.tf_record_iterator(file_name, options):
        yield self._coder.decode(record)


def install() -> None:
    """Makes every TFRecord read in this process use TensorFlow's reader (idempotent)."""
    tfrecordio._TFRecordSource.read_records = _read_records  # noqa: SLF001


def installed() -> bool:
    return tfrecordio._TFRecordSource.read_records is _read_records  # noqa: SLF001
