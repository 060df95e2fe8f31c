"""User and item towers: vocabulary index -> embedding.

Both tasks share these towers: the retrieval task scores a (user, item) pair by
the dot product of the two tower outputs, and the rating head reads the same
two vectors. Index `vocabulary_size` is the out-of-vocabulary bucket.

With side features a tower stays a function of the index alone:

    tower(i) = E_id[i] + sum over features f of  mean_{t in table_f[i], t != pad} E_f[t]

where table_f is the feature's per-index token table (feature_tables.py), so
the item corpus, the index and every serving signature are unchanged. In
training, a user feature may pool tokens given per interaction instead (its
out-of-fold profile), so the target's own review text never informs its
prediction.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from mtrec.trainer_module import features
from mtrec.trainer_module.feature_tables import PADDING, FeatureTable


class RowL2Embedding(tf.keras.layers.Embedding):
    """An Embedding whose L2 penalty is on the rows each call looks up:
    l2 * sum over the batch of w[id] * ||row||^2 (a batch sum, like the task
    losses), with w = 1 unless `row_weights` [rows] is given (rows past its
    end, the OOV buckets, weigh 1).

    Keras's `embeddings_regularizer` penalises the whole table at every step:
    a dense gradient, so a step costs O(vocabulary) and training grows with
    data x vocabulary, i.e. with the square of the data (measured:
    docs/benchmarks.md, Scale). Penalising the looked-up rows keeps the
    gradient sparse; frequent ids are held back more, as in classic matrix
    factorisation, unless `row_weights` = `inverse_batch_frequency` evens it out.

    Args:
        input_dim: number of rows (ids, OOV buckets included).
        output_dim: width of each row.
        l2_regularization: the coefficient l2 above; 0 adds no loss.
        row_weights: float [at most input_dim], the per-row weight w; rows
            past its end weigh 1; None: every row weighs 1. Longer than
            `input_dim` raises ValueError.
        **kwargs: passed to `tf.keras.layers.Embedding` (initializer, name).
    """

    def __init__(self, input_dim: int, output_dim: int, l2_regularization: float = 0.0,
                 row_weights: Optional[np.ndarray] = None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.l2_regularization = l2_regularization
        self.row_weights = None
        if row_weights is not None:
            if len(row_weights) > input_dim:
                raise ValueError(f"{len(row_weights)} row weights for {input_dim} rows")
            padded = np.ones(input_dim, np.float32)
            padded[:len(row_weights)] = row_weights
            self.row_weights = tf.constant(padded)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        outputs = super().call(inputs)
        if self.l2_regularization > 0:
            squares = tf.reduce_sum(tf.square(outputs), axis=-1)
            if self.row_weights is not None:
                squares *= tf.gather(self.row_weights, inputs)
            self.add_loss(self.l2_regularization * tf.reduce_sum(squares))
        return outputs

    def get_config(self):
        return {**super().get_config(), "l2_regularization": self.l2_regularization}


def inverse_batch_frequency(indices: np.ndarray, num_rows: int, batch_size: int) -> np.ndarray:
    """Row weights N / (batch_size * count[id]) for `RowL2Embedding` [num_rows].

    An id seen `count` times in N training rows is looked up count * B / N
    times per batch on average, so with these weights the expected penalty
    per step is l2 * sum over all rows of ||row||^2: the whole-table penalty,
    at the cost of a lookup. Ids never seen in training weigh 1.
    """
    counts = np.bincount(indices, minlength=num_rows)[:num_rows].astype(np.float64)
    return np.where(counts > 0, len(indices) / (batch_size * np.maximum(counts, 1)), 1.0)


def _initializer():
    return tf.keras.initializers.RandomNormal(stddev=0.05)


class PooledFeature(tf.keras.layers.Layer):
    """Mean of the embeddings of an index's side-feature tokens.

    int64 indices [batch] -> float32 [batch, embedding_dim]: looks up the rows
    of `table` [rows, max_length] (0 = padding), embeds the tokens and averages
    over the non-padding ones; a row of padding only (no tokens, the OOV
    index) gives zeros. `tokens` [batch, max_length], when given, is pooled
    instead of the table rows (training with out-of-fold profiles).

    Args:
        feature: the per-index token table [rows, max_length] and its token
            count; the token embedding has `feature.num_tokens + 1` rows
            (row 0: padding).
        embedding_dim: width of the token embeddings and of the output.
        l2_regularization: L2 coefficient on the token rows each call looks
            up (`RowL2Embedding`); 0 disables it.
        name: the layer name; None: `feature.name`.
    """

    def __init__(self, feature: FeatureTable, embedding_dim: int,
                 l2_regularization: float = 0.0, name: str | None = None):
        super().__init__(name=name or feature.name)
        self.feature_name = feature.name
        self.table = tf.Variable(feature.table, dtype=tf.int64, trainable=False, name="table")
        self.embedding = RowL2Embedding(
            feature.num_tokens + 1, embedding_dim, l2_regularization,
            embeddings_initializer=_initializer(), name="embedding")

    def call(self, indices: tf.Tensor, tokens: Optional[tf.Tensor] = None) -> tf.Tensor:
        if tokens is None:
            tokens = tf.gather(self.table, indices)  # [batch, max_length]
        mask = tf.cast(tokens != PADDING, tf.float32)[:, :, None]  # [batch, max_length, 1]
        summed = tf.reduce_sum(self.embedding(tokens) * mask, axis=1)  # [batch, d]
        return summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


class IdTower(tf.keras.Model):
    """Embeds ids and, optionally, side features: int64 indices [batch] -> float32
    [batch, embedding_dim]. Without side features it is a plain id embedding.

    Args:
        vocabulary_size: number of ids, OOV bucket excluded; the id embedding
            has `vocabulary_size + NUM_OOV_BUCKETS` rows.
        embedding_dim: width of the id and side-feature embeddings, and of
            the output (their sum).
        l2_regularization: L2 coefficient on the looked-up rows of every
            embedding of the tower (`RowL2Embedding`); 0 disables it.
        side_features: token tables to mean-pool and add, one per feature,
            each with `vocabulary_size + NUM_OOV_BUCKETS` rows (else
            ValueError); empty: ids only.
        name: the Keras model name.
    """

    def __init__(self, vocabulary_size: int, embedding_dim: int,
                 l2_regularization: float = 0.0, side_features: Sequence[FeatureTable] = (),
                 name: str | None = None):
        super().__init__(name=name)
        self.vocabulary_size = vocabulary_size
        self.embedding = RowL2Embedding(
            vocabulary_size + features.NUM_OOV_BUCKETS, embedding_dim, l2_regularization,
            embeddings_initializer=_initializer(), name="embedding")
        for feature in side_features:
            rows = feature.table.shape[0]
            if rows != vocabulary_size + features.NUM_OOV_BUCKETS:
                raise ValueError(f"side feature {feature.name!r}: table has {rows} rows, the "
                                 f"tower {vocabulary_size} ids + {features.NUM_OOV_BUCKETS} OOV")
        self.side_features = [PooledFeature(feature, embedding_dim, l2_regularization)
                              for feature in side_features]

    def call(self, indices: tf.Tensor,
             feature_tokens: Optional[Mapping[str, tf.Tensor]] = None) -> tf.Tensor:
        """`feature_tokens`: feature name -> [batch, max_length] tokens to pool
        instead of that feature's table rows (training only)."""
        indices = tf.reshape(indices, [-1])
        embeddings = self.embedding(indices)
        for feature in self.side_features:
            embeddings += feature(indices, (feature_tokens or {}).get(feature.feature_name))
        return embeddings
