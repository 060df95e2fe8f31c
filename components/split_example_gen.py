"""CsvExampleGen with the splits recommenders are evaluated on.

The stock ExampleGen splits by a hash of each record, unseeded. A recommender
needs three policies, all computed in Beam so they scale out with the rest:

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
from typing import Any, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
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

from mtrec.components import boundary_counts, record_counts
from mtrec.components.split_spec import SplitSpec


TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
SPLIT_PROPERTY = "split"  # custom property of the Examples artifact
DUPLICATES_PROPERTY = "duplicates_dropped"  # custom property of the Examples artifact
_CUTOFF_FILE = "split_cutoff.json"  # written by the Beam pipeline, read back by Do()
_DUPLICATES_FILE = "duplicates_dropped.json"  # likewise
_QUANTILES = 1000  # resolution of the computed time cutoff: 0.1% of the interactions


def _single_value(example: tf.train.Example, name: str):
    """The one value of feature `name` (bytes, int or float); None when absent."""
    feature = example.features.feature.get(name)
    if feature is None:
        return None
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else []
    return values[0] if values else None


def _required(example: tf.train.Example, name: str):
    value = _single_value(example, name)
    if value is None:
        raise ValueError(f"split: an interaction has no {name!r} value, which this split needs; "
                         f"example: {example}")
    return value


def _serialized(example: tf.train.Example) -> bytes:
    """The record's deterministic bytes: what is hashed, compared and written."""
    return example.SerializeToString(deterministic=True)


def random_is_eval(record: bytes, seed: int, eval_fraction: float) -> bool:
    """sha256(seed, record) as a number in [0, 1) below eval_fraction."""
    digest = hashlib.sha256(b"%d:" % seed + record)
    return int.from_bytes(digest.digest()[:8], "big") / 2 ** 64 < eval_fraction


def _required_in(record: bytes, name: str):
    return _required(tf.train.Example.FromString(record), name)


def _last_n_per_user(keyed: Tuple[Any, Iterable[bytes]], spec: SplitSpec):
    """Tags a user's newest `eval_per_user` interactions eval (ties broken by record bytes)."""
    _, records = keyed
    ordered = sorted(records, key=lambda r: (_required_in(r, spec.timestamp_column), r))
    held_out = spec.eval_per_user if len(ordered) > spec.eval_per_user else 0
    for position, record in enumerate(ordered):
        yield beam.pvalue.TaggedOutput(
            EVAL_SPLIT if position >= len(ordered) - held_out else TRAIN_SPLIT, record)


def _latest(keyed: Tuple[Any, Iterable[bytes]], timestamp_column: str) -> Tuple[bytes, int]:
    """The record kept for one (user, item) pair, and how many of its records were dropped."""
    _, records = keyed
    records = list(records)
    if len(records) == 1:  # nearly every pair: no need to parse
        return records[0], 0

    def order(record: bytes):
        timestamp = _single_value(tf.train.Example.FromString(record), timestamp_column)
        return (timestamp is not None, timestamp if timestamp is not None else 0, record)

    return max(records, key=order), len(records) - 1


def _pair_key(example: tf.train.Example, spec: SplitSpec) -> Tuple[Any, Any]:
    """(user, item); a row lacking either keeps a key of its own (only an identical row
    shares it), so it reaches the ExampleValidator, which reports the missing id."""
    user = _single_value(example, spec.user_column)
    item = _single_value(example, spec.item_column)
    if user is None or item is None:
        return ("no user or item", _serialized(example))
    return user, item


@beam.ptransform_fn
def DropDuplicates(examples: beam.PCollection, spec: SplitSpec, count_path: Optional[str]
                   ) -> beam.PCollection:
    """tf.train.Examples in, one serialized record per (user, item) out: the latest by
    timestamp (see the module docstring). Writes the number dropped to `count_path`.

    Records travel as bytes from here on: Beam moves bytes far faster than
    pickled protos, and the random split hashes exactly these bytes.
    """
    kept = (examples
            | "KeyByPair" >> beam.Map(lambda e: (_pair_key(e, spec), _serialized(e)))
            | "GroupByPair" >> beam.GroupByKey()
            | "Latest" >> beam.Map(_latest, spec.timestamp_column))
    if count_path:
        _ = (kept
             | "Dropped" >> beam.Map(lambda pair: pair[1])
             | "Total" >> beam.CombineGlobally(sum)
             | "RecordDropped" >> beam.Map(_write_json, count_path))
    return kept | "Rows" >> beam.Map(lambda pair: pair[0])


@beam.ptransform_fn
def SplitInteractions(records: beam.PCollection, spec: SplitSpec, cutoff_path: Optional[str]
                      ) -> Tuple[beam.PCollection, beam.PCollection]:
    """(train, eval) PCollections of serialized tf.train.Examples by `spec`."""
    if spec.method == "random":
        train, eval_ = records | "RandomSplit" >> beam.Partition(
            lambda r, _: int(random_is_eval(r, spec.seed, spec.eval_fraction)), 2)
        return train, eval_
    if spec.method == "last_n":
        tagged = (records
                  | "KeyByUser" >> beam.Map(lambda r: (_required_in(r, spec.user_column), r))
                  | "GroupByUser" >> beam.GroupByKey()
                  | "NewestPerUser" >> beam.FlatMap(_last_n_per_user, spec).with_outputs(
                      TRAIN_SPLIT, EVAL_SPLIT))
        return tagged[TRAIN_SPLIT], tagged[EVAL_SPLIT]
    if spec.cutoff is not None:
        cutoff = records.pipeline | "GivenCutoff" >> beam.Create([spec.cutoff])
    else:
        cutoff = (records
                  | "Timestamps" >> beam.Map(_required_in, spec.timestamp_column)
                  | "Quantiles" >> beam.ApproximateQuantiles.Globally(_QUANTILES)
                  | "CutoffAtFraction" >> beam.Map(
                      lambda q: q[min(len(q) - 1, round((1 - spec.eval_fraction) * (len(q) - 1)))]))
    if cutoff_path:
        _ = cutoff | "RecordCutoff" >> beam.Map(_write_json, cutoff_path)
    train, eval_ = records | "TimeSplit" >> beam.Partition(
        lambda r, _, c: int(_required_in(r, spec.timestamp_column) >= c), 2,
        beam.pvalue.AsSingleton(cutoff))
    return train, eval_


def _write_json(number: int, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(int(number)))


class Executor(csv_executor.Executor):
    """Reads CSVs like CsvExampleGen and splits them by the SplitSpec in custom_config."""

    _cutoff_path: Optional[str] = None
    _duplicates_path: Optional[str] = None

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
                               ) -> Dict[str, beam.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        (split,) = input_config.splits
        spec = SplitSpec.from_exec_properties(exec_properties)
        examples = pipeline | "InputToRecord" >> self.GetInputSourceToExamplePTransform()(
            exec_properties, split.pattern)
        unique = examples | "DropDuplicates" >> DropDuplicates(spec, self._duplicates_path)
        train, eval_ = unique | "Split" >> SplitInteractions(spec, self._cutoff_path)
        return {TRAIN_SPLIT: train, EVAL_SPLIT: eval_}

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        """The base ExampleGen's Do without its Reshuffle before each split's write.

        DropDuplicates' GroupByKey already redistributes the records (and breaks
        fusion on distributed runners); the second shuffle was a sizeable share
        of ExampleGen's Beam time (measured: docs/benchmarks.md). Records are
        written as gzipped TFRecords of tf.train.Examples, as the base executor
        writes them.
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
        with self._make_beam_pipeline() as pipeline:
            for name, records in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
                _ = records | f"WriteSplit[{name}]" >> beam.io.WriteToTFRecord(
                    _split_file_prefix(examples, name), file_name_suffix=".gz")
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
