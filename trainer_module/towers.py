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

import tensorflow as tf

from mtrec.trainer_module import features
from mtrec.trainer_module.feature_tables import PADDING, FeatureTable


class RowL2Embedding(tf.keras.layers.Embedding):
    """An Embedding whose L2 penalty is on the rows each call looks up:
    l2 * sum over the batch of ||row||^2 (a batch sum, like the task losses).

    Keras's `embeddings_regularizer` penalises the whole table at every step:
    a dense gradient, so a step costs O(vocabulary) and training grows with
    data x vocabulary, i.e. with the square of the data. At 200,000 users and
    100,000 items a step took 648 ms with it and 21 ms without
    (docs/benchmarks.md, Scale). Penalising the looked-up rows keeps the
    gradient sparse; frequent ids are held back more, as in classic matrix
    factorisation.
    """

    def __init__(self, input_dim: int, output_dim: int, l2_regularization: float = 0.0,
                 **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.l2_regularization = l2_regularization

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        outputs = super().call(inputs)
        if self.l2_regularization > 0:
            self.add_loss(self.l2_regularization * tf.reduce_sum(tf.square(outputs)))
        return outputs

    def get_config(self):
        return {**super().get_config(), "l2_regularization": self.l2_regularization}


def _initializer():
    return tf.keras.initializers.RandomNormal(stddev=0.05)


class PooledFeature(tf.keras.layers.Layer):
    """Mean of the embeddings of an index's side-feature tokens.

    int64 indices [batch] -> float32 [batch, embedding_dim]: looks up the rows
    of `table` [rows, max_length] (0 = padding), embeds the tokens and averages
    over the non-padding ones; a row of padding only (no tokens, the OOV
    index) gives zeros. `tokens` [batch, max_length], when given, is pooled
    instead of the table rows (training with out-of-fold profiles).
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
    [batch, embedding_dim]. Without side features it is a plain id embedding."""

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
