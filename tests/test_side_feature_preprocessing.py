"""Transform with side features on: tokenisation, bounded vocabularies, OOV.

Runs the real preprocessing_fn through tf.Transform, as test_vocabulary.py
does, with title and genres for items and review summaries for users.
"""

import functools

import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from mtrec.trainer_module import features
from mtrec.trainer_module.preprocessing import genre_tokens, preprocessing_fn, text_tokens

TITLE, GENRES, SUMMARY = features.ITEM_SIDE_FEATURES[features.TITLE], \
    features.ITEM_SIDE_FEATURES[features.GENRES], features.USER_SIDE_FEATURES[features.REVIEW_SUMMARY]

RAW_SPEC = {
    features.USER_ID: tf.io.FixedLenFeature([1], tf.string),
    features.ITEM_ID: tf.io.FixedLenFeature([1], tf.string),
    features.RATING: tf.io.FixedLenFeature([1], tf.float32),
    features.TITLE: tf.io.FixedLenFeature([1], tf.string),
    # Optional columns: CsvExampleGen leaves empty cells out, SchemaGen makes them sparse.
    features.GENRES: tf.io.VarLenFeature(tf.string),
    features.REVIEW_SUMMARY: tf.io.VarLenFeature(tf.string),
}


def row(user, item, title, genres, summary):
    return {"user_id": [user], "item_id": [item], "rating": [4.0], "title": [title],
            "genres": [genres] if genres else [], "review_summary": [summary] if summary else []}


# "star" and "wars" appear twice, every other title token once; frequency_threshold is 2.
TRAIN = [
    row(b"u1", b"i1", b"Star Wars (1977)", b"Action|Sci-Fi", b"Great fun!"),
    row(b"u1", b"i2", b"The Empire Strikes Back", b"", b""),
    row(b"u2", b"i1", b"Star Wars (1977)", b"Action|Sci-Fi", b"great, GREAT film"),
    row(b"u2", b"i3", b"Amelie", b"Comedy| Romance", b"fun"),
]
UNSEEN = [row(b"u9", b"i9", b"Wars of the Roses", b"Western", b"great zzz")]

CONFIG = {"item_features": [features.TITLE, features.GENRES],
          "user_features": [features.REVIEW_SUMMARY], "code_version": "x"}


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft")), force_tf_compat_v1=False):
        (train, _), transform_fn = (TRAIN, metadata) | tft_beam.AnalyzeAndTransformDataset(
            functools.partial(preprocessing_fn, custom_config=CONFIG), output_record_batches=False)
        unseen, _ = ((UNSEEN, metadata), transform_fn) | tft_beam.TransformDataset(
            output_record_batches=False)
        output_dir = str(tmp_path_factory.mktemp("transform_output"))
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    return train, unseen, tft.TFTransformOutput(output_dir)


def _vocabulary(output, name):
    return [v.decode() for v in output.vocabulary_by_name(name)]


def test_text_is_lower_cased_and_split_on_non_alphanumerics():
    tokens = text_tokens(tf.constant(["Star Wars: Episode IV (1977)", "", "Amélie!!"]))
    assert tf.sparse.to_dense(tokens, "").numpy().tolist() == [
        [b"star", b"wars", b"episode", b"iv", b"1977"], [b""] * 5,
        ["amélie".encode()] + [b""] * 4]
    assert tokens.dense_shape.numpy().tolist() == [3, 5]


def test_genres_split_on_bars_and_blank_genres_are_empty_rows():
    genres = genre_tokens(tf.constant(["Action|Sci-Fi", "", "Comedy| Romance|"]))
    dense = tf.sparse.to_dense(genres, "").numpy().tolist()
    assert dense == [[b"Action", b"Sci-Fi"], [b"", b""], [b"Comedy", b"Romance"]]


def test_side_feature_vocabularies_are_bounded_by_frequency(transformed):
    _, _, output = transformed
    assert sorted(_vocabulary(output, TITLE.vocabulary)) == ["1977", "star", "wars"]
    assert sorted(_vocabulary(output, GENRES.vocabulary)) == ["Action", "Comedy", "Romance",
                                                              "Sci-Fi"]
    assert _vocabulary(output, SUMMARY.vocabulary) == ["great", "fun"]  # most frequent first
    # The id vocabularies are unchanged by the side features.
    assert _vocabulary(output, features.USER_VOCABULARY) == ["u2", "u1"]


def test_transformed_rows_carry_token_indices_with_an_oov_bucket(transformed):
    train, unseen, output = transformed
    titles = _vocabulary(output, TITLE.vocabulary)
    oov = len(titles)
    star_wars = [titles.index("star"), titles.index("wars"), titles.index("1977")]
    assert list(train[0][TITLE.tokens]) == star_wars
    assert list(train[1][TITLE.tokens]) == [oov] * 4  # every token below the threshold
    assert list(train[1][GENRES.tokens]) == []  # empty genres: no tokens
    assert list(train[1][SUMMARY.tokens]) == []  # missing summary: no tokens
    summary = _vocabulary(output, SUMMARY.vocabulary)
    assert list(train[2][SUMMARY.tokens]) == [summary.index("great")] * 2 + [len(summary)]
    genres = _vocabulary(output, GENRES.vocabulary)
    assert list(unseen[0][GENRES.tokens]) == [len(genres)]  # an unseen genre
    assert list(unseen[0][TITLE.tokens]) == [titles.index("wars"), oov, oov, oov]


def test_features_off_emit_ids_only(tmp_path):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (train, _), _ = (TRAIN, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False)
    assert set(train[0]) == {features.USER_INDEX, features.ITEM_INDEX, features.RATING}


def test_an_enabled_feature_missing_from_the_data_names_column_and_key():
    inputs = {features.USER_ID: tf.constant([["u"]]), features.ITEM_ID: tf.constant([["i"]])}
    with pytest.raises(ValueError, match="column 'review_summary', enabled by model.user_features"):
        preprocessing_fn(inputs, {"user_features": [features.REVIEW_SUMMARY]})


TIME = features.ITEM_SIDE_FEATURES[features.TIMESTAMP]
TIME_CONFIG = {"item_features": [features.TIMESTAMP], "user_features": [features.TIMESTAMP]}
# Optional: a row without a timestamp is left out of the sparse column.
TIME_SPEC = {**RAW_SPEC, features.TIMESTAMP: tf.io.VarLenFeature(tf.int64)}


def timed_row(user, item, timestamp):
    return {**row(user, item, b"t", b"", b""),
            "timestamp": [timestamp] if timestamp is not None else []}


def _transform_times(tmp_path, spec, train_rows, unseen_rows):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (train, train_metadata), transform_fn = (
            (train_rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
                functools.partial(preprocessing_fn, custom_config=TIME_CONFIG),
                output_record_batches=False))
        unseen, _ = ((unseen_rows, metadata), transform_fn) | tft_beam.TransformDataset(
            output_record_batches=False)
    return train, unseen, train_metadata


def test_timestamps_become_one_quantile_bucket_per_row(tmp_path):
    # 64 training timestamps spread evenly: quantile buckets of 2 rows each.
    train_rows = [timed_row(b"u1", b"i1", 1_000_000 + 100 * t) for t in range(64)]
    train_rows.append(timed_row(b"u2", b"i2", None))
    unseen_rows = [timed_row(b"u9", b"i9", 0), timed_row(b"u9", b"i9", 2_000_000_000)]
    train, unseen, metadata = _transform_times(tmp_path, TIME_SPEC, train_rows, unseen_rows)
    # Enabled for both towers, transformed once, next to the ids.
    assert set(train[0]) == {features.USER_INDEX, features.ITEM_INDEX, features.RATING,
                             TIME.tokens}
    buckets = [list(r[TIME.tokens]) for r in train[:64]]
    assert all(len(b) == 1 for b in buckets)
    flat = [b[0] for b in buckets]
    assert flat == sorted(flat) and flat[0] == 0 and flat[-1] == features.TIME_BUCKETS - 1
    assert len(set(flat)) >= features.TIME_BUCKETS - 2  # about one bucket per 2 rows
    assert list(train[64][TIME.tokens]) == []  # no timestamp: no bucket
    # Outside the training range: the first and last buckets, never out of range.
    assert [list(r[TIME.tokens]) for r in unseen] == [[0], [features.TIME_BUCKETS - 1]]
    assert any(f.name == TIME.tokens for f in metadata.schema.feature)


def test_timestamps_present_in_every_row_are_bucketed_too(tmp_path):
    # CsvExampleGen + SchemaGen give a dense [batch, 1] column when no cell is empty.
    spec = {**RAW_SPEC, features.TIMESTAMP: tf.io.FixedLenFeature([1], tf.int64)}
    train_rows = [timed_row(b"u1", b"i1", t) for t in (10, 20, 30, 40)]
    train, _, _ = _transform_times(tmp_path, spec, train_rows, train_rows[:1])
    assert [len(r[TIME.tokens]) for r in train] == [1, 1, 1, 1]
    assert [r[TIME.tokens][0] for r in train] == sorted(r[TIME.tokens][0] for r in train)


@pytest.mark.parametrize("key", ["item_features", "user_features"])
def test_timestamp_missing_from_the_data_names_column_and_key(key):
    inputs = {features.USER_ID: tf.constant([["u"]]), features.ITEM_ID: tf.constant([["i"]])}
    with pytest.raises(ValueError, match=f"column 'timestamp', enabled by model.{key}"):
        preprocessing_fn(inputs, {key: [features.TIMESTAMP]})
