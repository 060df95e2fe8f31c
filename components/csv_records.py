"""CSV files to serialized tf.train.Examples, a block of rows at a time with Arrow.

TFX's CsvExampleGen parses and converts each row in Python, and that was
most of ExampleGen's time (the profile in docs/benchmarks.md). This module
produces the same records from Arrow blocks: pyarrow's CSV reader and
tfx_bsl's C++ Example encoder, one column at a time, with each record's map
entries then joined in key order.

The contract is TFX's, so that the records are byte for byte those its
reader makes (tests/test_csv_records.py compares them):

- a column's type is the most general over every non-empty cell of every
  file: INT (int64 range) < FLOAT < STRING, decided per cell as tfx_bsl's
  `_InferValueType` does; a column with no value at all has no type;
- a non-empty cell is a one-value list of its column's type, an empty cell
  an empty list of that type, and a cell of a column with no type an empty
  `tf.train.Feature`;
- quoted fields may span lines; blank lines are skipped; every file must
  have the first file's columns.

Beyond TFX: a UTF-8 byte-order mark before the header is skipped, and a
file may have its columns in another order (they are aligned by name: TFX
refuses such a file).

Records are serialized deterministically (map keys sorted), because the
random split hashes these bytes and duplicates are ordered by them.
"""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.fs as pa_fs
from tfx_bsl.coders import csv_decoder, example_coder

from mtrec.data.canonical import same_columns

ColumnType = csv_decoder.ColumnType
BLOCK_BYTES = 4 << 20  # rows per Arrow block: about 100,000 of MovieLens's

# Cells that certainly parse as Python's int() / float() of their bytes; any
# other non-empty cell is decided by tfx_bsl's own Python rule.
_INT_CELL = r"^[+-]?[0-9]+$"
_FLOAT_CELL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_INT64_DIGITS = 18  # every integer of at most this many digits fits int64


def _open(path: str) -> pa.NativeFile:
    """The file as an Arrow stream, decompressed by its extension (.gz, .bz2) as
    Beam's filesystems do; local paths and the schemes pyarrow.fs knows (gs://,
    s3://, hdfs://).

    Arrow reads it natively: given a Python file object (Beam's), its CSV
    reader's read-ahead thread waits for the GIL and the reader deadlocks.
    """
    if "://" not in path:
        path = os.path.abspath(path)
    filesystem, location = pa_fs.FileSystem.from_uri(path)
    return filesystem.open_input_stream(location, compression="detect")


def read_header(path: str) -> List[str]:
    """The file's column names, as TFX reads them (its first CSV record)."""
    with _open(path) as handle:
        reader = pa_csv.open_csv(handle, read_options=_read_options(1 << 16),
                                 parse_options=_PARSE, convert_options=_strings([]))
        return list(reader.schema.names)


_PARSE = pa_csv.ParseOptions(newlines_in_values=True)


def _read_options(block_bytes: int) -> pa_csv.ReadOptions:
    # One thread: Beam runs the files in parallel.
    return pa_csv.ReadOptions(block_size=block_bytes, use_threads=False)


def _strings(names: Sequence[str]) -> pa_csv.ConvertOptions:
    """Every column as text; empty cells stay "" (typed below)."""
    return pa_csv.ConvertOptions(column_types={name: pa.string() for name in names},
                                 strings_can_be_null=False, quoted_strings_can_be_null=False)


def _blocks(path: str, column_names: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The file's rows as all-text RecordBatches with the columns in the order of
    `column_names`; refuses a file with other columns."""
    with _open(path) as handle:
        try:
            reader = pa_csv.open_csv(
                handle, read_options=_read_options(BLOCK_BYTES),
                parse_options=_PARSE, convert_options=_strings(column_names))
            header = reader.schema.names
            if not same_columns(header, column_names):
                raise ValueError(f"{path}: columns {','.join(header)} are not the first "
                                 f"file's, {','.join(column_names)}")
            for block in reader:
                yield (block if header == list(column_names) else pa.RecordBatch.from_arrays(
                    [block.column(name) for name in column_names], list(column_names)))
        except pa.ArrowInvalid as error:
            raise ValueError(f"{path}: cannot be read as CSV: {error}") from error


def cell_type(cells: pa.Array) -> ColumnType:
    """The most general type of the non-empty cells, by tfx_bsl's rule.

    Cells matching the plain integer or decimal patterns are decided in Arrow;
    the rest (and integers too long to be sure of int64's range) go through
    tfx_bsl's `_InferValueType`, stopping at the first STRING.
    """
    cells = pc.filter(cells, pc.not_equal(cells, ""))
    if len(cells) == 0:
        return ColumnType.UNKNOWN
    is_int = pc.match_substring_regex(cells, _INT_CELL)
    is_float = pc.match_substring_regex(cells, _FLOAT_CELL)  # every integer matches it too
    found = (ColumnType.FLOAT if pc.any(pc.and_not(is_float, is_int)).as_py()
             else ColumnType.INT)
    undecided = pa.concat_arrays([
        pc.filter(cells, pc.invert(is_float)),
        pc.filter(cells, pc.and_(is_int, pc.greater(pc.utf8_length(cells), _INT64_DIGITS)))])
    for start in range(0, len(undecided), 1024):
        for cell in undecided.slice(start, 1024).to_pylist():
            found = max(found, csv_decoder._InferValueType(cell.encode()))  # pylint: disable=protected-access
            if found == ColumnType.STRING:
                return found
    return found


def merge_types(per_file: Sequence[Sequence[ColumnType]]) -> List[ColumnType]:
    """Column types over several files: the most general of each column."""
    merged: Optional[List[ColumnType]] = None
    for types in per_file:
        merged = list(types) if merged is None else [max(a, b) for a, b in zip(merged, types)]
    if merged is None:
        raise ValueError("no CSV file to infer column types from")
    return merged


def file_types(path: str, column_names: Sequence[str]) -> List[ColumnType]:
    """Each column's type over one file's cells."""
    types = [ColumnType.UNKNOWN] * len(column_names)
    for block in _blocks(path, column_names):
        types = [max(found, cell_type(block.column(index))) if found != ColumnType.STRING
                 else found for index, found in enumerate(types)]
    return types


def _python_values(cells: List[str], kind: type) -> pa.Array:
    return pa.array([kind(cell.encode()) for cell in cells],
                    pa.int64() if kind is int else pa.float64())


def _typed(cells: pa.Array, column_type: ColumnType) -> pa.Array:
    """One column as Arrow lists: a one-value list per non-empty cell, an empty
    list per empty one; all null for a column without a type."""
    if column_type == ColumnType.UNKNOWN:
        return pa.nulls(len(cells), pa.large_list(pa.large_binary()))
    present = pc.not_equal(cells, "")
    values = pc.filter(cells, present)
    if column_type == ColumnType.STRING:
        values = values.cast(pa.large_binary())
    elif column_type == ColumnType.INT:
        try:
            values = values.cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # " 7", "1_000": Python's int()
            values = _python_values(values.to_pylist(), int)
    else:
        try:
            values = values.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # "infinity", " 2.5"
            values = _python_values(values.to_pylist(), float)
        # Python's float, then the proto's float32, as TFX stores it.
        values = values.cast(pa.float32(), safe=False)
    offsets = pa.concat_arrays([pa.array([0], pa.int64()),
                                pc.cumulative_sum(present.cast(pa.int64()))])
    return pa.LargeListArray.from_arrays(offsets, values)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SHORT_VARINTS = [_varint(n) for n in range(1 << 14)]


def _map_entries(column: pa.RecordBatch) -> List[bytes]:
    """Each row's `Features.feature` map entry for this one column, as serialized.

    A one-feature Example is `0x0a <varint length> <entry>`: the entry is
    what follows the varint.
    """
    encoded = example_coder.RecordBatchToExamplesEncoder().encode(column)
    return [record[2:] if record[1] < 0x80 else record[_past_varint(record, 1):]
            for record in encoded]


def _past_varint(data: bytes, start: int) -> int:
    """The index just past the varint that begins at `start`."""
    while data[start] & 0x80:
        start += 1
    return start + 1


def to_records(block: pa.RecordBatch, column_types: Sequence[ColumnType]
               ) -> Tuple[pa.RecordBatch, List[bytes]]:
    """The block as typed list columns, and one serialized tf.train.Example per row.

    Serialized deterministically: the map entries in key order, each encoded
    by tfx_bsl's C++ encoder one column at a time (it writes several in hash
    order, and re-serializing each record in Python would cost three times
    as much as all of this).
    """
    names = block.schema.names
    typed = pa.RecordBatch.from_arrays(
        [_typed(block.column(index), kind) for index, kind in enumerate(column_types)], names)
    entries = [_map_entries(pa.RecordBatch.from_arrays([typed.column(index)], [name]))
               for index, name in sorted(enumerate(names), key=lambda pair: pair[1].encode())]
    records = []
    for features in map(b"".join, zip(*entries)):
        size = len(features)
        records.append(b"\x0a" + (_SHORT_VARINTS[size] if size < (1 << 14) else _varint(size))
                       + features)
    return typed, records


def read_records(path: str, column_names: Sequence[str], column_types: Sequence[ColumnType]
                 ) -> Iterator[Tuple[pa.RecordBatch, List[bytes]]]:
    """The file's rows, a block at a time: typed columns and serialized records."""
    for block in _blocks(path, column_names):
        yield to_records(block, column_types)
