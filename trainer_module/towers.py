"""User and item towers: vocabulary index -> embedding.

Both tasks share these towers: the retrieval task scores a (user, item) pair by
the dot product of the two tower outputs, and the rating head reads the same
two vectors. Index `vocabulary_size` is the out-of-vocabulary bucket.
"""

from __future__ import annotations

import tensorflow as tf

from mtrec.trainer_module import features


class IdTower(tf.keras.Model):
    """Embeds ids: int64 indices [batch] -> float32 [batch, embedding_dim]."""

    def __init__(self, vocabulary_size: int, embedding_dim: int,
                 l2_regularization: float = 0.0, name: str | None = None):
        super().__init__(name=name)
        self.vocabulary_size = vocabulary_size
        regularizer = (tf.keras.regularizers.l2(l2_regularization)
                       if l2_regularization > 0 else None)
        self.embedding = tf.keras.layers.Embedding(
            vocabulary_size + features.NUM_OOV_BUCKETS, embedding_dim,
            embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05),
            embeddings_regularizer=regularizer, name="embedding")

    def call(self, indices: tf.Tensor) -> tf.Tensor:
        return self.embedding(tf.reshape(indices, [-1]))
