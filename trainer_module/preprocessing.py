"""The Transform stage: id vocabularies.

`preprocessing_fn` turns raw user and item ids into dense vocabulary indices
(most frequent first, one out-of-vocabulary bucket at the end) and passes the
rating through as a float. CsvExampleGen types numeric ids as INT64, so ids are
cast to strings first: the vocabulary, the serving signatures and the
evaluation signature all key on the string form.
"""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf
import tensorflow_transform as tft

from mtrec.trainer_module import features


def to_dense_column(tensor: tf.Tensor | tf.SparseTensor, default) -> tf.Tensor:
    """Returns a rank-1 [batch] tensor for a single-valued feature.

    SchemaGen makes a feature dense ([batch, 1]) when every example has it and
    sparse otherwise; both become [batch], missing values taking `default`.
    """
    if isinstance(tensor, tf.SparseTensor):
        single_column = tf.sparse.reset_shape(tensor, [tensor.dense_shape[0], 1])
        tensor = tf.sparse.to_dense(single_column, default_value=default)
    return tf.reshape(tensor, [-1])


def ids_as_strings(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """Dense rank-1 string ids, whatever type ExampleGen inferred."""
    if tensor.dtype == tf.string:
        return to_dense_column(tensor, default=b"")
    return tf.strings.as_string(to_dense_column(tensor, default=0))


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Dict[str, Any] | None = None) -> Dict[str, tf.Tensor]:
    """TFX Transform entry point. `custom_config` carries only the code version
    (part of the cache key), so it is not read here."""
    outputs = {
        features.USER_INDEX: tft.compute_and_apply_vocabulary(
            ids_as_strings(inputs[features.USER_ID]),
            num_oov_buckets=features.NUM_OOV_BUCKETS,
            vocab_filename=features.USER_VOCABULARY),
        features.ITEM_INDEX: tft.compute_and_apply_vocabulary(
            ids_as_strings(inputs[features.ITEM_ID]),
            num_oov_buckets=features.NUM_OOV_BUCKETS,
            vocab_filename=features.ITEM_VOCABULARY),
    }
    if features.RATING in inputs:
        outputs[features.RATING] = to_dense_column(
            tf.cast(inputs[features.RATING], tf.float32), default=float("nan"))
    return outputs
