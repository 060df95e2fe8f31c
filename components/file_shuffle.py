"""A GroupByKey whose values go through files, so no process holds them all.

Beam's in-memory runner keeps every grouped value in one process until the
whole group is read (its GroupingBuffer), so a GroupByKey of all the ratings
is as large in memory as the data. `GroupThroughFiles` instead appends each
(key, bytes) value to a file per key and bundle, and groups only the file
paths; a consumer reads one key's values back with `read_values`. Memory is
then one bundle's write buffers and one key's values, on every runner.

The folder must be one every worker can read and write (the artifact's
folder: local on one machine, GCS or HDFS on a cluster). Each bundle writes
files of its own (a random name), and only a bundle that commits passes its
paths on, so a retried bundle duplicates nothing; files of failed attempts
are left for `remove` to delete with the folder.
"""

from __future__ import annotations

import struct
import uuid
from typing import BinaryIO, Dict, Iterable, Iterator, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import window

_LENGTH = struct.Struct(">Q")  # each value is written as its length, then its bytes


class _AppendToKeyFiles(beam.DoFn):
    """(key, bytes) in; at the bundle's end, (key, path) for each key it saw."""

    def __init__(self, folder: str):
        self._folder = folder

    def start_bundle(self):
        self._bundle = uuid.uuid4().hex
        self._files: Dict[int, Tuple[str, BinaryIO]] = {}

    def process(self, element: Tuple[int, bytes]):
        key, value = element
        if key not in self._files:
            path = FileSystems.join(self._folder, f"{key}-{self._bundle}")
            self._files[key] = (path, FileSystems.create(
                path, compression_type=CompressionTypes.UNCOMPRESSED))
        handle = self._files[key][1]
        handle.write(_LENGTH.pack(len(value)))
        handle.write(value)

    def finish_bundle(self):
        for key, (path, handle) in sorted(self._files.items()):
            handle.close()
            yield window.GlobalWindows.windowed_value((key, path))
        self._files = {}


@beam.ptransform_fn
def GroupThroughFiles(pairs: beam.PCollection, folder: str) -> beam.PCollection:
    """(int key, bytes) in; (key, sorted paths of the files holding its values) out."""
    return (pairs
            | "AppendToKeyFiles" >> beam.ParDo(_AppendToKeyFiles(folder))
            | "GroupPaths" >> beam.GroupByKey()
            | "SortPaths" >> beam.MapTuple(lambda key, paths: (key, sorted(paths))))


def read_values(paths: Iterable[str]) -> Iterator[bytes]:
    """The values written to `paths`, file by file, in the order written."""
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            data = handle.read()
        offset = 0
        while offset < len(data):
            (length,) = _LENGTH.unpack_from(data, offset)
            offset += _LENGTH.size
            if offset + length > len(data):
                raise IOError(f"{path}: truncated at byte {offset} (a value of {length} "
                              f"bytes, {len(data) - offset} left)")
            yield data[offset:offset + length]
            offset += length


def remove(folder: str) -> None:
    """Deletes the folder and every file in it, if it exists."""
    if FileSystems.exists(folder):
        FileSystems.delete([folder])

