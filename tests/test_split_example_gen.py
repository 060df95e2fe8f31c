"""The recommender splits: seeded random, global time cutoff, last N per user.

The split function runs in a real Beam pipeline; the executor runs on
MovieLens 100K prepared from ../shared/data, and reads back what it wrote.
"""

import dataclasses
import glob
import json
import os
import tempfile

import apache_beam as beam
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import proto_utils

from mtrec.components import split_example_gen
from mtrec.components.split_example_gen import (DropDuplicates, GroupByUserBucket,
                                                SplitInteractions, SplitSpec)
from mtrec.pipeline.config import DataConfig
from mtrec.data import movielens


def _spec(method: str = "random", **changes) -> SplitSpec:
    """The default config's split policy, with `method` and any `changes`."""
    return dataclasses.replace(DataConfig(split=method).split_spec(), **changes)


def _example(user: int, item: int, timestamp: int) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[user])),
        "item_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"i%d" % item])),
        "timestamp": tf.train.Feature(int64_list=tf.train.Int64List(value=[timestamp])),
    }))


INTERACTIONS = [_example(user, item, 1000 * user + 7 * item)
                for user in range(50) for item in range(user % 7 + 1)]


def _key(record: bytes) -> str:
    feature = tf.train.Example.FromString(record).features.feature
    values = [getattr(feature[f], feature[f].WhichOneof("kind")).value[0]
              for f in ("user_id", "item_id", "timestamp")]
    return json.dumps([values[0], values[1].decode(), values[2]])


def _batches(records, spec: SplitSpec) -> list:
    """Rows holding every row of their users, as DropDuplicates outputs them."""
    return [rows for _, rows in split_example_gen.by_user_bucket(
        split_example_gen.rows_from_records(records, spec))]


def _split(spec: SplitSpec, examples=INTERACTIONS):
    """(train, eval) lists of (user, item, timestamp), from a real Beam pipeline."""
    with tempfile.TemporaryDirectory() as folder:
        with beam.Pipeline() as pipeline:
            records = [e.SerializeToString(deterministic=True) for e in examples]
            train, eval_ = (pipeline | beam.Create(_batches(records, spec))
                            | SplitInteractions(spec, None))
            for name, collection in (("train", train), ("eval", eval_)):
                _ = (collection | f"Key{name}" >> beam.Map(_key)
                     | f"Write{name}" >> beam.io.WriteToText(os.path.join(folder, name)))
        return tuple(sorted(tuple(json.loads(line)) for path in glob.glob(f"{folder}/{name}*")
                            for line in open(path)) for name in ("train", "eval"))


def test_random_split_is_seeded_complete_and_near_the_fraction():
    train, eval_ = _split(_spec("random", eval_fraction=0.25, seed=42))
    assert len(train) + len(eval_) == len(INTERACTIONS) == 197
    assert not set(train) & set(eval_)
    assert 0.15 < len(eval_) / len(INTERACTIONS) < 0.35
    assert _split(_spec("random", eval_fraction=0.25, seed=42)) == (train, eval_)
    assert _split(_spec("random", eval_fraction=0.25, seed=7))[1] != eval_


def test_time_split_at_the_quantile_holds_out_the_newest():
    train, eval_ = _split(_spec("time", eval_fraction=0.2))
    assert len(train) + len(eval_) == 197
    assert max(t for *_, t in train) < min(t for *_, t in eval_)
    assert 0.15 < len(eval_) / 197 < 0.25


def test_time_split_with_a_given_cutoff():
    train, eval_ = _split(_spec("time", cutoff=40_000))
    assert all(t < 40_000 for *_, t in train) and all(t >= 40_000 for *_, t in eval_)
    assert {u for u, *_ in eval_} == set(range(40, 50))


def test_last_n_holds_out_each_users_newest():
    train, eval_ = _split(_spec("last_n", eval_per_user=2))
    by_user = {}
    for user, item, timestamp in eval_:
        by_user.setdefault(user, []).append(item)
    # Users with 1 or 2 interactions (user % 7 in {0, 1}) stay wholly in train.
    assert set(by_user) == {u for u in range(50) if u % 7 + 1 > 2}
    for user, items in by_user.items():
        newest = sorted(["i%d" % i for i in range(user % 7 + 1)], key=lambda b: int(b[1:]))[-2:]
        assert sorted(items) == sorted(newest)
    assert len(train) + len(eval_) == 197


def test_a_missing_timestamp_is_an_error_naming_the_column():
    no_time = tf.train.Example()
    no_time.features.feature["user_id"].int64_list.value.append(1)
    with pytest.raises(Exception, match="no 'timestamp' value"):
        _split(_spec("time"), [no_time])


def test_spec_round_trips_through_exec_properties():
    spec = _spec("time", eval_fraction=0.1, seed=3, cutoff=1_700_000_000, eval_per_user=4)
    properties = {"custom_config": proto_utils.proto_to_json(spec.to_custom_config())}
    assert SplitSpec.from_exec_properties(properties) == spec
    with pytest.raises(ValueError, match="split method must be one of"):
        _spec("hash")


def _run_executor(ratings_dir: str, uri: str, spec: SplitSpec,
                  executor=split_example_gen.Executor) -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = uri
    component = split_example_gen.create_example_gen(ratings_dir, "*.csv", spec)
    executor().Do({}, {"examples": [examples]}, component.exec_properties)
    return examples


def _records(examples: standard_artifacts.Examples, split: str) -> list:
    files = sorted(tf.io.gfile.glob(artifact_utils.get_split_uri([examples], split) + "/*.gz"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_executor_time_split_on_movielens(shared_data, tmp_path):
    """The real executor on ML-100K: no eval interaction precedes the recorded cutoff."""
    movielens.prepare("movielens-100k", str(shared_data / "ml-100k"), str(tmp_path / "data"),
                      side_features=False)
    examples = _run_executor(str(tmp_path / "data" / "ratings"), str(tmp_path / "examples"),
                             _spec("time", eval_fraction=0.2))

    recorded = json.loads(examples.get_string_custom_property("split"))
    cutoff = recorded["cutoff"]
    assert recorded["method"] == "time" and 874724710 < cutoff < 893286638
    timestamps = {}
    for split in ("train", "eval"):
        timestamps[split] = [tf.train.Example.FromString(record).features.feature[
            "timestamp"].int64_list.value[0] for record in _records(examples, split)]
    assert len(timestamps["train"]) + len(timestamps["eval"]) == 100_000
    assert min(timestamps["eval"]) >= cutoff > max(timestamps["train"])
    assert 0.19 < len(timestamps["eval"]) / 100_000 < 0.21
    assert examples.get_int_custom_property("duplicates_dropped") == 0


def _rating_example(user: bytes, item: bytes, rating: int, timestamp=None) -> tf.train.Example:
    example = tf.train.Example()
    feature = example.features.feature
    feature["user_id"].bytes_list.value.append(user)
    feature["item_id"].bytes_list.value.append(item)
    feature["rating"].int64_list.value.append(rating)
    if timestamp is not None:
        feature["timestamp"].int64_list.value.append(timestamp)
    return example


def _user_item_rating(record: bytes) -> str:
    feature = tf.train.Example.FromString(record).features.feature
    return json.dumps([feature["user_id"].bytes_list.value[0].decode(),
                       feature["item_id"].bytes_list.value[0].decode(),
                       feature["rating"].int64_list.value[0]])


def _deduplicate(examples):
    """(user, item, rating) of the rows DropDuplicates keeps, and the count it recorded."""
    with tempfile.TemporaryDirectory() as folder:
        count = os.path.join(folder, "count.json")
        with beam.Pipeline() as pipeline:
            records = [e.SerializeToString(deterministic=True) for e in examples]
            batches = split_example_gen.by_user_bucket(
                split_example_gen.rows_from_records(records, _spec()))
            _ = (pipeline | beam.Create(list(batches))
                 | GroupByUserBucket(os.path.join(folder, "buckets")) | DropDuplicates(count)
                 | beam.FlatMap(lambda rows: rows.records)
                 | beam.Map(_user_item_rating)
                 | beam.io.WriteToText(os.path.join(folder, "kept")))
        kept = sorted(tuple(json.loads(line)) for path in glob.glob(f"{folder}/kept*")
                      for line in open(path))
        with open(count) as handle:
            return kept, json.load(handle)


def test_duplicate_pairs_keep_the_latest_by_timestamp():
    kept, dropped = _deduplicate([
        _rating_example(b"u1", b"i1", 2, timestamp=100),
        _rating_example(b"u1", b"i1", 5, timestamp=300),  # the latest: kept
        _rating_example(b"u1", b"i1", 3, timestamp=200),
        _rating_example(b"u1", b"i1", 1),  # no timestamp counts as oldest
        _rating_example(b"u1", b"i2", 4, timestamp=50),
        _rating_example(b"u2", b"i1", 1, timestamp=10),
    ])
    assert kept == [("u1", "i1", 5), ("u1", "i2", 4), ("u2", "i1", 1)]
    assert dropped == 3


def test_duplicates_without_timestamps_keep_the_same_row_on_every_run():
    rows = [_rating_example(b"u1", b"i1", r) for r in (3, 5, 1)]
    first = _deduplicate(rows)
    assert first == _deduplicate(list(reversed(rows)))
    assert len(first[0]) == 1 and first[1] == 2


def _write_ratings(folder) -> str:
    """3,000 distinct (user, item) ratings with timestamps in folder/ratings.csv."""
    folder.mkdir()
    rows = [f"u{u},i{(u * 7 + k) % 97},{1 + (u + k) % 5},{1_600_000_000 + u * 100 + k}"
            for u in range(300) for k in range(10)]
    (folder / "ratings.csv").write_text("user_id,item_id,rating,timestamp\n"
                                        + "\n".join(rows) + "\n")
    return str(folder)


def test_executor_writes_every_record_once_with_the_artifact_properties(tmp_path):
    """The executor's own write (no Reshuffle): gzipped tf.train.Example TFRecords
    with the properties downstream components read, the same files on every run."""
    ratings = _write_ratings(tmp_path / "ratings")
    first = _run_executor(ratings, str(tmp_path / "first"), _spec("random"))
    second = _run_executor(ratings, str(tmp_path / "second"), _spec("random"))
    for split in ("train", "eval"):
        assert _records(first, split) == _records(second, split)
    assert len(_records(first, "train")) + len(_records(first, "eval")) == 3000
    assert first.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
    assert first.get_string_custom_property("file_format") == "tfrecords_gzip"
    assert artifact_utils.decode_split_names(first.split_names) == ["train", "eval"]
    assert not os.path.exists(os.path.join(first.uri, split_example_gen._BUCKETS_FOLDER))


class _LosingExecutor(split_example_gen.Executor):
    """Loses user u7's ten eval-or-train records inside Beam, as the DirectRunner's
    multi-processing mode lost rows of a 10M-rating file (record_counts.py)."""

    def GenerateExamplesByBeam(self, pipeline, exec_properties):
        splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
        return {name: records | f"Lose[{name}]" >> beam.Filter(
                    lambda record: b"\n\x02u7" not in record)  # the user_id bytes of u7
                for name, records in splits.items()}


def test_executor_fails_naming_the_count_when_rows_are_lost(tmp_path):
    ratings = _write_ratings(tmp_path / "ratings")
    with pytest.raises(RuntimeError) as error:
        _run_executor(ratings, str(tmp_path / "examples"), _spec("random"),
                      executor=_LosingExecutor)
    message = str(error.value)
    assert "read 3,000 rows" in message and "wrote 2,990 examples" in message, message
    assert "10 rows were lost" in message and os.path.join(ratings, "*.csv") in message


class _FailingExecutor(split_example_gen.Executor):
    """Fails inside Beam once the rows are grouped through files."""

    def GenerateExamplesByBeam(self, pipeline, exec_properties):
        def fail(record):
            raise ValueError("a worker failed")
        splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
        return {name: records | f"Fail[{name}]" >> beam.Map(fail)
                for name, records in splits.items()}


def test_a_failed_run_leaves_no_grouped_rows_behind(tmp_path):
    ratings = _write_ratings(tmp_path / "ratings")
    with pytest.raises(Exception, match="a worker failed"):
        _run_executor(ratings, str(tmp_path / "examples"), _spec("random"),
                      executor=_FailingExecutor)
    assert not os.path.exists(tmp_path / "examples" / split_example_gen._BUCKETS_FOLDER)


def test_files_are_aligned_by_column_name_and_other_columns_are_refused(tmp_path):
    """What the pre-run checks cannot see (remote files, other orchestrators)
    the executor checks again before Beam starts."""
    (tmp_path / "a.csv").write_text("user_id,item_id,rating\nu1,i1,4\n")
    (tmp_path / "b.csv").write_text("rating,user_id,item_id\n3,u2,i2\n")
    files, names = split_example_gen._csv_files(str(tmp_path / "*.csv"))
    assert [os.path.basename(f) for f in files] == ["a.csv", "b.csv"]
    assert names == ["user_id", "item_id", "rating"]
    (tmp_path / "c.csv").write_text("user_id,item_id\nu3,i3\n")
    with pytest.raises(RuntimeError, match=r"c\.csv: its columns \(user_id,item_id\) are not "
                                           r"those of .*a\.csv \(user_id,item_id,rating\)"):
        split_example_gen._csv_files(str(tmp_path / "*.csv"))
