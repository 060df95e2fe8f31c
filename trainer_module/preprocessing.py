"""The Transform stage: id vocabularies and, optionally, side-feature vocabularies.

`preprocessing_fn` turns raw user and item ids into dense vocabulary indices
(most frequent first, one out-of-vocabulary bucket at the end) and passes the
rating through as a float. CsvExampleGen types numeric ids as INT64, so ids are
cast to strings first: the vocabulary, the serving signatures and the
evaluation signature all key on the string form.

Side features enabled in `custom_config` (`item_features`, `user_features`;
see features.ITEM_SIDE_FEATURES / USER_SIDE_FEATURES) become token indices,
sparse [batch, None], each through its own bounded vocabulary:

  title           lower-cased, split on anything that is not a letter or digit
  review_summary  the same
  genres          split on '|', blanks dropped, case kept
  timestamp       one quantile time bucket (tft.bucketize over the training
                  rows, features.TIME_BUCKETS) per row; a row without a
                  timestamp gets an empty list
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

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


def text_tokens(text: tf.Tensor) -> tf.SparseTensor:
    """[batch] strings -> [batch, None] lower-cased tokens split on non-alphanumerics.

    An empty or missing text gives an empty row.
    """
    lowered = tf.strings.lower(text, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, r"[^\pL\pN]+", " ")
    return tf.strings.split(spaced).to_sparse()


def genre_tokens(genres: tf.Tensor) -> tf.SparseTensor:
    """[batch] '|'-separated genres -> [batch, None] genre names; '' gives an empty row."""
    parts = tf.strings.strip(tf.strings.split(genres, sep="|"))
    return tf.ragged.boolean_mask(parts, tf.strings.length(parts) > 0).to_sparse()


_TOKENIZERS = {
    features.TITLE: text_tokens,
    features.GENRES: genre_tokens,
    features.REVIEW_SUMMARY: text_tokens,
}


def enabled_side_features(custom_config: Dict[str, Any] | None
                          ) -> Dict[str, Tuple[features.SideFeature, str]]:
    """The side features `custom_config` enables, items' first, in config order:
    transformed feature name -> (feature, the config key enabling it). A
    feature enabled for both towers (the timestamp) is transformed once."""
    config = custom_config or {}
    enabled: Dict[str, Tuple[features.SideFeature, str]] = {}
    for key, specs in (("item_features", features.ITEM_SIDE_FEATURES),
                       ("user_features", features.USER_SIDE_FEATURES)):
        for name in config.get(key, []):
            enabled.setdefault(specs[name].tokens, (specs[name], f"model.{key}"))
    return enabled


def check_side_feature_columns(inputs: Dict[str, tf.Tensor],
                               enabled: Dict[str, Tuple[features.SideFeature, str]]) -> None:
    """Raises ValueError naming the column and config key of an enabled feature
    the data lacks (pipeline/input_checks.py catches a missing header earlier;
    this catches a column without a single value, which ExampleGen drops)."""
    for feature, key in enabled.values():
        if feature.column not in inputs:
            raise ValueError(f"column {feature.column!r}, enabled by {key}, is not in the data "
                             f"(or has no value in any row); columns: {sorted(inputs)}")


def time_buckets(timestamps: tf.Tensor | tf.SparseTensor, num_buckets: int) -> tf.SparseTensor:
    """[batch, 1] unix seconds (dense, or sparse when some rows lack one) ->
    [batch, None] int64 quantile bucket indices: one per row with a timestamp.

    The boundaries are quantiles of the analysed (training) data.
    """
    if isinstance(timestamps, tf.SparseTensor):
        values = tf.sparse.reset_shape(timestamps, [timestamps.dense_shape[0], 1])
    else:
        values = tf.RaggedTensor.from_tensor(tf.reshape(timestamps, [-1, 1])).to_sparse()
    return tft.bucketize(tf.cast(values, tf.int64), num_buckets=num_buckets)


def side_feature_indices(inputs: Dict[str, tf.Tensor],
                         feature: features.SideFeature) -> tf.SparseTensor:
    """Token indices [batch, None] of one side feature through its vocabulary
    (or, for a numeric feature, its quantile buckets)."""
    if feature.num_buckets:
        return time_buckets(inputs[feature.column], feature.num_buckets)
    tokens = _TOKENIZERS[feature.column](ids_as_strings(inputs[feature.column]))
    return tft.compute_and_apply_vocabulary(
        tokens, top_k=feature.top_k, frequency_threshold=feature.frequency_threshold,
        num_oov_buckets=features.NUM_OOV_BUCKETS, vocab_filename=feature.vocabulary)


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Dict[str, Any] | None = None) -> Dict[str, tf.Tensor]:
    """TFX Transform entry point.

    `custom_config` holds `item_features` and `user_features` (lists of side
    feature names, empty by default) and the code version (only part of the
    cache key, not read here).
    """
    side_features = enabled_side_features(custom_config)
    check_side_feature_columns(inputs, side_features)
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
    for name, (feature, _) in side_features.items():
        outputs[name] = side_feature_indices(inputs, feature)
    return outputs
