"""Counts records with plain Python, outside Beam, so that ExampleGen can check
that it wrote every row it read.

Why: on a large CSV, Beam's DirectRunner in multi-processing mode can lose
rows in ExampleGen's first stage with no error, and every later component
would then run on what was left (docs/benchmarks.md, "Rows lost in
multi-processing mode"). A count taken inside the same Beam pipeline could
miss the same rows, so neither count here uses Beam.
"""

from __future__ import annotations

import gzip
import struct
from typing import Iterable

import tensorflow as tf

_TFRECORD_HEADER = 12  # uint64 length, uint32 masked crc of the length
_TFRECORD_FOOTER = 4  # uint32 masked crc of the data


def count_csv_records(paths: Iterable[str]) -> int:
    """Rows CsvExampleGen reads from these files: after each file's header, a
    record is one line or, where a quoted field spans lines, several (an odd
    number of '"' keeps it open, as TFX's reader does); blank lines, which TFX
    skips, are not counted."""
    total = 0
    for path in paths:
        with tf.io.gfile.GFile(path, "rb") as handle:
            handle.readline()  # the header
            open_quotes = 0
            record_has_text = False
            for line in handle:
                open_quotes += line.count(b'"')
                record_has_text = record_has_text or bool(line.strip(b"\r\n"))
                if open_quotes % 2 == 0:
                    total += record_has_text
                    open_quotes = 0
                    record_has_text = False
    return total


def count_gzip_tfrecords(path: str) -> int:
    """Records in one gzipped TFRecord file, read by their length headers."""
    count = 0
    with tf.io.gfile.GFile(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as records:
        while header := records.read(_TFRECORD_HEADER):
            if len(header) < _TFRECORD_HEADER:
                raise ValueError(f"{path}: ends inside a record header")
            (length,) = struct.unpack("<Q", header[:8])
            records.seek(length + _TFRECORD_FOOTER, 1)
            count += 1
    return count


def count_gzip_tfrecord_shards(pattern: str) -> int:
    """Records in every gzipped TFRecord file matching the glob `pattern`."""
    return sum(count_gzip_tfrecords(path) for path in sorted(tf.io.gfile.glob(pattern)))
