"""Transform's vocabularies and the serving-time lookups built from them.

Training sees ids mapped by Transform; serving and the TFMA signature map
ids with tables built from Transform's vocabulary files. These tests run the
real preprocessing_fn through tf.Transform and check that both agree,
including for ids Transform never saw (the OOV bucket).
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from mtrec.trainer_module import features
from mtrec.trainer_module.export import vocabulary_lookup
from mtrec.trainer_module.preprocessing import ids_as_strings, preprocessing_fn

# Numeric user ids (CsvExampleGen types them INT64), string item ids.
RAW_SPEC = {
    features.USER_ID: tf.io.FixedLenFeature([1], tf.int64),
    features.ITEM_ID: tf.io.FixedLenFeature([1], tf.string),
    features.RATING: tf.io.FixedLenFeature([1], tf.float32),
}
TRAIN = [
    {"user_id": [7], "item_id": [b"b"], "rating": [4.0]},
    {"user_id": [7], "item_id": [b"a"], "rating": [3.0]},
    {"user_id": [3], "item_id": [b"b"], "rating": [5.0]},
    {"user_id": [7], "item_id": [b"c"], "rating": [1.0]},
    {"user_id": [3], "item_id": [b"b"], "rating": [2.0]},
]
UNSEEN = [{"user_id": [99], "item_id": [b"zzz"], "rating": [3.0]}]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    temp = str(tmp_path_factory.mktemp("tft"))
    with tft_beam.Context(temp_dir=temp, force_tf_compat_v1=False):
        (train, _), transform_fn = (TRAIN, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False)
        unseen, _ = ((UNSEEN, metadata), transform_fn) | tft_beam.TransformDataset(
            output_record_batches=False)
        output_dir = str(tmp_path_factory.mktemp("transform_output"))
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    return train, unseen, tft.TFTransformOutput(output_dir)


def test_vocabularies_are_string_ids_most_frequent_first(transformed):
    _, _, output = transformed
    assert output.vocabulary_by_name(features.USER_VOCABULARY) == [b"7", b"3"]
    assert output.vocabulary_by_name(features.ITEM_VOCABULARY)[0] == b"b"
    assert sorted(output.vocabulary_by_name(features.ITEM_VOCABULARY)) == [b"a", b"b", b"c"]


def test_transform_indices_and_the_oov_bucket(transformed):
    train, unseen, output = transformed
    items = [v.decode() for v in output.vocabulary_by_name(features.ITEM_VOCABULARY)]
    assert [int(row[features.USER_INDEX]) for row in train] == [0, 0, 1, 0, 1]
    assert [items[int(row[features.ITEM_INDEX])] for row in train] == ["b", "a", "b", "c", "b"]
    assert [float(row[features.RATING]) for row in train] == [4.0, 3.0, 5.0, 1.0, 2.0]
    # Unseen ids land in the single OOV bucket, at index len(vocabulary).
    assert int(unseen[0][features.USER_INDEX]) == 2
    assert int(unseen[0][features.ITEM_INDEX]) == 3


def test_serving_lookup_matches_transform(transformed):
    train, unseen, output = transformed
    users = [v.decode() for v in output.vocabulary_by_name(features.USER_VOCABULARY)]
    items = [v.decode() for v in output.vocabulary_by_name(features.ITEM_VOCABULARY)]
    user_table, item_table = vocabulary_lookup(users), vocabulary_lookup(items)
    raw = TRAIN + UNSEEN
    rows = list(train) + list(unseen)
    user_ids = tf.constant([str(r["user_id"][0]) for r in raw])
    item_ids = tf.constant([r["item_id"][0] for r in raw])
    np.testing.assert_array_equal(user_table.lookup(user_ids).numpy(),
                                  [int(r[features.USER_INDEX]) for r in rows])
    np.testing.assert_array_equal(item_table.lookup(item_ids).numpy(),
                                  [int(r[features.ITEM_INDEX]) for r in rows])


def test_ids_as_strings_handles_dense_sparse_and_int():
    dense_int = tf.constant([[12], [7]], tf.int64)
    assert ids_as_strings(dense_int).numpy().tolist() == [b"12", b"7"]
    sparse = tf.SparseTensor(indices=[[0, 0], [2, 0]], values=tf.constant(["x", "y"]),
                             dense_shape=[3, 1])
    assert ids_as_strings(sparse).numpy().tolist() == [b"x", b"", b"y"]
