"""CsvExampleGen with the splits recommenders are evaluated on.

The CSVs are read as TFX's CsvExampleGen reads them, into the same records,
but a block of rows at a time (csv_records.py). The stock ExampleGen splits
by a hash of each record, unseeded. A recommender needs three policies, all
computed in Beam so they scale out with the rest:

- `random`: each interaction goes to eval with probability `eval_fraction`,
  decided by sha256(seed, record): seeded, stable across runners and runs.
- `time`: one global cutoff; interactions at or after it are eval, earlier
  ones train. The cutoff is given (unix seconds) or, when absent, set at the
  (1 - eval_fraction) quantile of the timestamps, so that the newest
  `eval_fraction` of the interactions are held out.
- `last_n`: each user's `eval_per_user` newest interactions are eval, the rest
  train; users with no more than that many interactions stay wholly in train.

Before splitting, duplicate (user, item) rows are reduced to one: the one with
the latest timestamp (rows without a timestamp count as oldest; ties, and
files with no timestamp column, keep the row whose serialized record sorts
last, so the choice is the same on every run and runner). The number dropped
is set on the Examples artifact as the custom property `duplicates_dropped`.
Rows travel in batches (`Rows`), one per user bucket once grouped, so Beam's
cost is per batch, not per row. They are grouped through files
(file_shuffle.py), so no process holds more than a few buckets' rows, on any
runner.
After writing, the executor checks, outside Beam, that the records written
plus the duplicates dropped equal the rows read, and fails otherwise
(record_counts.py).

The policy travels in ExampleGen's `custom_config` (a Struct packed in its
Any), so it is part of the cache key and recorded in ML Metadata; the
resolved policy, the time cutoff included, is also set on the Examples
artifact as the custom property `split`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import zlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from mtrec.components import boundary_counts, csv_records, file_shuffle, record_counts
from mtrec.data import canonical
from mtrec.components.split_spec import SplitSpec


TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
SPLIT_PROPERTY = "split"  # custom property of the Examples artifact
DUPLICATES_PROPERTY = "duplicates_dropped"  # custom property of the Examples artifact
_CUTOFF_FILE = "split_cutoff.json"  # written by the Beam pipeline, read back by Do()
_DUPLICATES_FILE = "duplicates_dropped.json"  # likewise
_BUCKETS_FOLDER = ".user_buckets"  # the grouped rows' files, deleted once written
_QUANTILES = 1000  # resolution of the computed time cutoff: 0.1% of the interactions


# Every interaction of a user lands in one of this many batches: the unit the
# duplicate drop and the last_n split work on, so Beam moves a few thousand
# batches instead of one element per row, and no process holds more than one.
USER_BUCKETS = 256


@dataclasses.dataclass
class Rows:
    """Interactions as columns: the single user, item and timestamp value of each
    (None when absent) and its serialized tf.train.Example."""

    users: List[Any]
    items: List[Any]
    timestamps: List[Any]
    records: List[bytes]

    @classmethod
    def concatenate(cls, parts: Iterable["Rows"]) -> "Rows":
        merged = cls([], [], [], [])
        for part in parts:
            merged.users += part.users
            merged.items += part.items
            merged.timestamps += part.timestamps
            merged.records += part.records
        return merged

    def pack(self) -> bytes:
        """One bytes object: what GroupByUserBucket writes to its files."""
        return pickle.dumps((self.users, self.items, self.timestamps, self.records),
                            protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def unpack(cls, packed: bytes) -> "Rows":
        return cls(*pickle.loads(packed))

    def select(self, indices: Iterable[int]) -> "Rows":
        indices = list(indices)
        return Rows([self.users[i] for i in indices], [self.items[i] for i in indices],
                    [self.timestamps[i] for i in indices], [self.records[i] for i in indices])


def _single_value(example: tf.train.Example, name: str):
    """The one value of feature `name` (bytes, int or float); None when absent."""
    feature = example.features.feature.get(name)
    if feature is None:
        return None
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else []
    return values[0] if values else None


def rows_from_records(records: Iterable[bytes], spec: SplitSpec) -> Rows:
    """Rows of serialized tf.train.Examples (records another reader made)."""
    rows = Rows([], [], [], [])
    for record in records:
        example = tf.train.Example.FromString(record)
        rows.users.append(_single_value(example, spec.user_column))
        rows.items.append(_single_value(example, spec.item_column))
        rows.timestamps.append(_single_value(example, spec.timestamp_column))
        rows.records.append(record)
    return rows


def _first_values(typed: pa.RecordBatch, name: str) -> List[Any]:
    """Each row's value of list column `name`, None where empty (or no such column)."""
    if name not in typed.schema.names:
        return [None] * typed.num_rows
    column = typed.column(name)
    flat = pc.list_flatten(column).to_pylist()
    if len(flat) == typed.num_rows:
        return flat
    values: List[Any] = [None] * typed.num_rows
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    for row, value in zip(np.flatnonzero(lengths > 0).tolist(), flat):
        values[row] = value
    return values


def user_bucket(user: Any) -> int:
    """The batch a user's interactions go to: a hash stable across processes."""
    key = user if isinstance(user, bytes) else repr(user).encode()
    return zlib.crc32(key) % USER_BUCKETS


def _read_rows(path: str, column_names: List[str], spec: SplitSpec,
               column_types: List[csv_records.ColumnType]) -> Iterable[Tuple[int, Rows]]:
    """One file's interactions as (user bucket, Rows), a block at a time."""
    for typed, records in csv_records.read_records(path, column_names, column_types):
        yield from by_user_bucket(Rows(
            _first_values(typed, spec.user_column), _first_values(typed, spec.item_column),
            _first_values(typed, spec.timestamp_column), records))


def by_user_bucket(rows: Rows) -> Iterable[Tuple[int, Rows]]:
    """The rows as (user bucket, the bucket's Rows): DropDuplicates' input."""
    by_bucket: Dict[int, List[int]] = {}
    for index, user in enumerate(rows.users):
        by_bucket.setdefault(user_bucket(user), []).append(index)
    for bucket, indices in sorted(by_bucket.items()):
        yield bucket, rows.select(indices)


def _required(rows: Rows, values: List[Any], index: int, name: str):
    value = values[index]
    if value is None:
        raise ValueError(f"split: an interaction has no {name!r} value, which this split needs; "
                         f"example: {tf.train.Example.FromString(rows.records[index])}")
    return value


def random_is_eval(record: bytes, seed: int, eval_fraction: float) -> bool:
    """sha256(seed, record) as a number in [0, 1) below eval_fraction."""
    digest = hashlib.sha256(b"%d:" % seed + record)
    return int.from_bytes(digest.digest()[:8], "big") / 2 ** 64 < eval_fraction


@beam.ptransform_fn
def GroupByUserBucket(batches: beam.PCollection, folder: str) -> beam.PCollection:
    """(user bucket, Rows) in; (user bucket, the files in `folder` holding its Rows)
    out, one element per bucket. A GroupByKey of the Rows themselves is held
    whole in memory by Beam's in-memory runner (docs/benchmarks.md)."""
    return (batches
            | "Pack" >> beam.MapTuple(lambda bucket, rows: (bucket, rows.pack()))
            | "ThroughFiles" >> file_shuffle.GroupThroughFiles(folder))


def _latest(keyed: Tuple[int, List[str]]) -> Tuple[Rows, int]:
    """One bucket's rows with one per (user, item) pair, and how many were dropped.

    The row kept is the latest by timestamp; rows without one count as oldest,
    and ties keep the record that sorts last. A row lacking the user or the item
    keeps a key of its own (only an identical row shares it), so it reaches the
    ExampleValidator, which reports the missing id.
    """
    _, paths = keyed
    rows = Rows.concatenate(Rows.unpack(packed) for packed in file_shuffle.read_values(paths))

    def order(index: int):
        timestamp = rows.timestamps[index]
        return (timestamp is not None, timestamp if timestamp is not None else 0,
                rows.records[index])

    kept: Dict[Any, int] = {}
    for index, (user, item) in enumerate(zip(rows.users, rows.items)):
        key = ((user, item) if user is not None and item is not None
               else ("no user or item", rows.records[index]))
        previous = kept.setdefault(key, index)
        if previous != index and order(index) > order(previous):
            kept[key] = index
    return rows.select(sorted(kept.values())), len(rows.records) - len(kept)


@beam.ptransform_fn
def DropDuplicates(buckets: beam.PCollection, count_path: Optional[str]) -> beam.PCollection:
    """GroupByUserBucket's output in, Rows out with one row per (user, item): all
    of a bucket's users' rows in one Rows (see `_latest` for which row is kept).
    Writes the number dropped to `count_path`."""
    kept = buckets | "Latest" >> beam.Map(_latest)
    if count_path:
        _ = (kept
             | "Dropped" >> beam.Map(lambda pair: pair[1])
             | "Total" >> beam.CombineGlobally(sum)
             | "RecordDropped" >> beam.Map(_write_json, count_path))
    return kept | "Rows" >> beam.Map(lambda pair: pair[0])


def _last_n(rows: Rows, spec: SplitSpec) -> Iterable[beam.pvalue.TaggedOutput]:
    """Tags each user's newest `eval_per_user` records eval (ties broken by record
    bytes); users with no more than that many stay wholly in train. `rows` holds
    every row of its users."""
    by_user: Dict[Any, List[int]] = {}
    for index, user in enumerate(rows.users):
        by_user.setdefault(_required(rows, rows.users, index, spec.user_column), []).append(index)
    for indices in by_user.values():
        ordered = sorted(indices, key=lambda i: (
            _required(rows, rows.timestamps, i, spec.timestamp_column), rows.records[i]))
        held_out = spec.eval_per_user if len(ordered) > spec.eval_per_user else 0
        for position, index in enumerate(ordered):
            yield beam.pvalue.TaggedOutput(
                EVAL_SPLIT if position >= len(ordered) - held_out else TRAIN_SPLIT,
                rows.records[index])


def _timestamps(rows: Rows, spec: SplitSpec) -> Iterable[Any]:
    for index in range(len(rows.records)):
        yield _required(rows, rows.timestamps, index, spec.timestamp_column)


def _by_cutoff(rows: Rows, spec: SplitSpec, cutoff) -> Iterable[beam.pvalue.TaggedOutput]:
    for index, record in enumerate(rows.records):
        timestamp = _required(rows, rows.timestamps, index, spec.timestamp_column)
        yield beam.pvalue.TaggedOutput(EVAL_SPLIT if timestamp >= cutoff else TRAIN_SPLIT, record)


def _by_hash(rows: Rows, spec: SplitSpec) -> Iterable[beam.pvalue.TaggedOutput]:
    for record in rows.records:
        yield beam.pvalue.TaggedOutput(
            EVAL_SPLIT if random_is_eval(record, spec.seed, spec.eval_fraction) else TRAIN_SPLIT,
            record)


@beam.ptransform_fn
def SplitInteractions(batches: beam.PCollection, spec: SplitSpec, cutoff_path: Optional[str],
                      cutoff_batches: Optional[beam.PCollection] = None
                      ) -> Tuple[beam.PCollection, beam.PCollection]:
    """(train, eval) PCollections of serialized tf.train.Examples by `spec`, from
    Rows that each hold every row of their users (DropDuplicates' output).
    A time split without a given cutoff computes it from `cutoff_batches` (the
    same Rows; default `batches`): a second copy lets `batches` flow straight
    into the split instead of being held in memory until the cutoff is known."""
    if spec.method == "random":
        tagged = batches | "RandomSplit" >> beam.FlatMap(_by_hash, spec).with_outputs(
            TRAIN_SPLIT, EVAL_SPLIT)
        return tagged[TRAIN_SPLIT], tagged[EVAL_SPLIT]
    if spec.method == "last_n":
        tagged = batches | "NewestPerUser" >> beam.FlatMap(_last_n, spec).with_outputs(
            TRAIN_SPLIT, EVAL_SPLIT)
        return tagged[TRAIN_SPLIT], tagged[EVAL_SPLIT]
    if spec.cutoff is not None:
        cutoff = batches.pipeline | "GivenCutoff" >> beam.Create([spec.cutoff])
    else:
        cutoff = ((batches if cutoff_batches is None else cutoff_batches)
                  | "Timestamps" >> beam.FlatMap(_timestamps, spec)
                  | "Quantiles" >> beam.ApproximateQuantiles.Globally(_QUANTILES)
                  | "CutoffAtFraction" >> beam.Map(
                      lambda q: q[min(len(q) - 1, round((1 - spec.eval_fraction) * (len(q) - 1)))]))
    if cutoff_path:
        _ = cutoff | "RecordCutoff" >> beam.Map(_write_json, cutoff_path)
    tagged = batches | "TimeSplit" >> beam.FlatMap(
        _by_cutoff, spec, beam.pvalue.AsSingleton(cutoff)).with_outputs(TRAIN_SPLIT, EVAL_SPLIT)
    return tagged[TRAIN_SPLIT], tagged[EVAL_SPLIT]


def _write_json(number: int, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(int(number)))


def _csv_files(pattern: str) -> Tuple[List[str], List[str]]:
    """The input files and the first one's header; refuses files with other columns
    (the same ones in another order are read aligned by name)."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    names = csv_records.read_header(files[0])
    for path in files:
        header = csv_records.read_header(path)
        if not canonical.same_columns(header, names):
            raise RuntimeError(f"{path}: its columns ({','.join(header)}) are not those of "
                               f"{files[0]} ({','.join(names)}); every file in the ratings "
                               f"folder needs the same columns, each once, in any order")
    return files, names


class Executor(csv_executor.Executor):
    """Reads CSVs into CsvExampleGen's records and splits them by the SplitSpec in
    custom_config."""

    _cutoff_path: Optional[str] = None
    _duplicates_path: Optional[str] = None
    _buckets_path: Optional[str] = None

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
                               ) -> Dict[str, beam.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        (split,) = input_config.splits
        spec = SplitSpec.from_exec_properties(exec_properties)
        files, column_names = _csv_files(os.path.join(
            exec_properties[standard_component_specs.INPUT_BASE_KEY], split.pattern))
        paths = pipeline | "CsvFiles" >> beam.Create(files)
        column_types = (paths
                        | "ColumnTypesPerFile" >> beam.Map(csv_records.file_types, column_names)
                        | "ColumnTypes" >> beam.CombineGlobally(csv_records.merge_types))
        batches = paths | "ReadRows" >> beam.FlatMap(
            _read_rows, column_names, spec, beam.pvalue.AsSingleton(column_types))
        buckets = batches | "GroupByUserBucket" >> GroupByUserBucket(self._buckets_path)
        unique = buckets | "DropDuplicates" >> DropDuplicates(self._duplicates_path)
        cutoff_batches = None
        if spec.method == "time" and spec.cutoff is None:
            cutoff_batches = buckets | "DropDuplicatesForCutoff" >> DropDuplicates(None)
        train, eval_ = unique | "Split" >> SplitInteractions(
            spec, self._cutoff_path, cutoff_batches)
        return {TRAIN_SPLIT: train, EVAL_SPLIT: eval_}

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        """The base ExampleGen's Do without its Reshuffle before each split's write.

        GroupByUserBucket's GroupByKey already redistributes the buckets (and
        breaks fusion on distributed runners); the second shuffle was a sizeable share
        of ExampleGen's Beam time (measured: docs/benchmarks.md). Records are
        written as gzipped TFRecords of tf.train.Examples, as the base executor
        writes them. The grouped rows' files are deleted however the run ends.
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        if payload_format not in (None, example_gen_pb2.FORMAT_TF_EXAMPLE):
            raise ValueError(f"ExampleGen writes tf.train.Examples; output_data_format "
                             f"{payload_format} is not supported")
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        if file_format not in (None, example_gen_pb2.FILE_FORMAT_UNSPECIFIED,
                               example_gen_pb2.FORMAT_TFRECORDS_GZIP):
            raise ValueError(f"ExampleGen writes gzipped TFRecords; output_file_format "
                             f"{file_format} is not supported")
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                                  output_config)
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config))
        self._cutoff_path = os.path.join(examples.uri, _CUTOFF_FILE)
        self._duplicates_path = os.path.join(examples.uri, _DUPLICATES_FILE)
        self._buckets_path = os.path.join(examples.uri, _BUCKETS_FOLDER)
        try:
            with self._make_beam_pipeline() as pipeline:
                for name, records in self.GenerateExamplesByBeam(pipeline,
                                                                 exec_properties).items():
                    _ = records | f"WriteSplit[{name}]" >> beam.io.WriteToTFRecord(
                        _split_file_prefix(examples, name), file_name_suffix=".gz")
        finally:
            file_shuffle.remove(self._buckets_path)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))

        with tf.io.gfile.GFile(self._duplicates_path) as handle:
            duplicates = json.load(handle)
        _check_nothing_lost(exec_properties, input_config, examples, duplicates,
                            self._beam_pipeline_args)
        examples.set_int_custom_property(DUPLICATES_PROPERTY, duplicates)
        spec = SplitSpec.from_exec_properties(exec_properties)
        if spec.method == "time" and spec.cutoff is None:
            with tf.io.gfile.GFile(self._cutoff_path) as handle:
                spec = dataclasses.replace(spec, cutoff=json.load(handle))
        examples.set_string_custom_property(SPLIT_PROPERTY, json.dumps(dataclasses.asdict(spec)))


def _split_file_prefix(examples: types.Artifact, split: str) -> str:
    """Where Do() writes a split's gzipped TFRecord shards, and the check reads them."""
    return os.path.join(artifact_utils.get_split_uri([examples], split),
                        write_split.DEFAULT_FILE_NAME)


def _check_nothing_lost(exec_properties: Dict[str, Any], input_config: example_gen_pb2.Input,
                        examples: types.Artifact, duplicates: int, beam_args: List[str]) -> None:
    """Raises unless the rows read equal the records written plus the duplicates
    dropped, both counted outside Beam (record_counts.py says why); then records
    the examples written per split on the artifact (boundary_counts.py)."""
    (split,) = input_config.splits
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split.pattern)
    read = record_counts.count_csv_records(sorted(tf.io.gfile.glob(pattern)))
    per_split = {name: record_counts.count_gzip_tfrecord_shards(
                     _split_file_prefix(examples, name) + "*.gz")
                 for name in (TRAIN_SPLIT, EVAL_SPLIT)}
    written = sum(per_split.values())
    if read != written + duplicates:
        raise RuntimeError(
            f"ExampleGen read {read:,} rows from {pattern} but wrote {written:,} examples and "
            f"dropped {duplicates:,} duplicates: {read - written - duplicates:,} rows were lost "
            f"in the Beam runner (Beam arguments: {' '.join(beam_args) or 'none'}). Nothing "
            f"after ExampleGen ran. Beam's DirectRunner in multi-processing mode is known to "
            f"lose rows of large inputs (docs/benchmarks.md); --set beam_mode=in_memory "
            f"avoids it.")
    for name, count in per_split.items():  # what every later component is checked against
        boundary_counts.record_examples_count(examples, name, count)


def create_example_gen(input_base: str, file_pattern: str, spec: SplitSpec
                       ) -> FileBasedExampleGen:
    """The pipeline's ExampleGen: every file matching `file_pattern` under `input_base`,
    split into train and eval by `spec`."""
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="all", pattern=file_pattern)]),
        # Names the two output splits; the buckets are not used by this executor.
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=TRAIN_SPLIT, hash_buckets=1),
            example_gen_pb2.SplitConfig.Split(name=EVAL_SPLIT, hash_buckets=1)])),
        custom_config=spec.to_custom_config(),
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id("CsvExampleGen")
