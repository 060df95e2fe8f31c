"""The multi-task recommender: a retrieval task and a rating task on shared towers.

    user tower u = E_user[user],  item tower v = E_item[item]
                (plus mean-pooled side-feature embeddings when enabled: towers.py)
    retrieval:  softmax over in-batch items of <u, v> / temperature - log q(item)
                (q = the item's share of training interactions: in-batch
                negatives are sampled by popularity, and without this logQ
                correction the scores learn to penalise popular items)
    rating:     r_hat = mu + b_user + b_item + MLP([u, v])
    loss = w_retrieval * L_retrieval + w_rating * MSE(r, r_hat)

The loss weights make the model retrieval-only (w_rating = 0), rating-only
(w_retrieval = 0) or joint. No FactorizedTopK metric is computed during
training: it scores the whole corpus on every step, which is most of the TFRS
tutorial's training time; the Evaluator measures top-K once, on held-out data.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from mtrec.trainer_module import features
from mtrec.trainer_module.autograph_rules import leave_tf_keras_unconverted
from mtrec.trainer_module.feature_tables import FeatureTable
from mtrec.trainer_module.towers import IdTower, RowL2Embedding

# Every trace of this model (fit, export, tests) skips rewriting tf_keras.
leave_tf_keras_unconverted()


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the two task losses in the total loss.

    The presets (joint, retrieval-only, rating-only) are resolved by the
    pipeline config; a zero weight skips that task's computation entirely.
    """

    retrieval: float
    rating: float

    def __post_init__(self):
        if self.retrieval < 0 or self.rating < 0 or self.retrieval + self.rating == 0:
            raise ValueError(
                f"loss weights must be >= 0 and not both 0, got retrieval={self.retrieval}, "
                f"rating={self.rating}")


class RatingHead(tf.keras.Model):
    """Predicts a rating from the two tower outputs (and per-id biases)."""

    def __init__(self, num_users: int, num_items: int, embedding_dim: int,
                 hidden_units: Tuple[int, ...], mean_rating: float,
                 l2_regularization: float = 0.0, name: str = "rating_head",
                 user_bias_weights: Optional[np.ndarray] = None,
                 item_bias_weights: Optional[np.ndarray] = None):
        """`user_bias_weights` / `item_bias_weights`: per-id weights of the
        biases' L2 (`RowL2Embedding`); None: every looked-up row weighs 1."""
        super().__init__(name=name)
        # The per-id biases take the towers' L2: unregularised, they fit each
        # training rating and RMSE rises after a few epochs (docs/benchmarks.md).
        self.mlp = tf.keras.Sequential(
            [tf.keras.layers.Dense(units, activation="relu") for units in hidden_units]
            + [tf.keras.layers.Dense(1)], name="mlp")
        # Built now: a retrieval-only model never calls the head while training,
        # and Keras refuses to list the variables of an unbuilt Sequential.
        self.mlp.build((None, 2 * embedding_dim))
        oov = features.NUM_OOV_BUCKETS
        self.user_bias = RowL2Embedding(num_users + oov, 1, l2_regularization, user_bias_weights,
                                        embeddings_initializer="zeros", name="user_bias")
        self.item_bias = RowL2Embedding(num_items + oov, 1, l2_regularization, item_bias_weights,
                                        embeddings_initializer="zeros", name="item_bias")
        self.global_bias = tf.Variable(mean_rating, dtype=tf.float32, name="global_bias")

    def call(self, user_embeddings, item_embeddings, user_indices, item_indices) -> tf.Tensor:
        """Returns predicted ratings, [batch]."""
        interaction = self.mlp(tf.concat([user_embeddings, item_embeddings], axis=1))
        rating = (interaction + self.user_bias(user_indices) + self.item_bias(item_indices)
                  + self.global_bias)
        return tf.reshape(rating, [-1])


class MultiTaskRecommender(tfrs.Model):
    """Two towers, a retrieval task and a rating task, combined by `LossWeights`."""

    def __init__(self, num_users: int, num_items: int, embedding_dim: int,
                 loss_weights: LossWeights, rating_hidden_units: Tuple[int, ...] = (64, 32),
                 mean_rating: float = 0.0, l2_regularization: float = 0.0,
                 temperature: float = 1.0, item_probabilities: Optional[np.ndarray] = None,
                 user_features: Sequence[FeatureTable] = (),
                 item_features: Sequence[FeatureTable] = (),
                 user_bias_weights: Optional[np.ndarray] = None,
                 item_bias_weights: Optional[np.ndarray] = None):
        """`item_probabilities` [num_items]: sampling probability of each item in
        a batch, for the logQ correction; None disables it. `user_features` /
        `item_features`: side-feature tables the towers pool (none: ids only).
        `user_bias_weights` / `item_bias_weights`: see `RatingHead`."""
        super().__init__()
        self.loss_weights = loss_weights
        self.item_probabilities = (
            None if item_probabilities is None else
            tf.constant(np.append(item_probabilities, [1.0] * features.NUM_OOV_BUCKETS), tf.float32))
        # user feature name -> the batch feature with each interaction's training profile
        self.training_profiles = {f.name: f.training_tokens for f in user_features
                                  if f.training_tokens}
        self.user_tower = IdTower(num_users, embedding_dim, l2_regularization,
                                  side_features=user_features, name="user_tower")
        self.item_tower = IdTower(num_items, embedding_dim, l2_regularization,
                                  side_features=item_features, name="item_tower")
        self.rating_head = RatingHead(num_users, num_items, embedding_dim, rating_hidden_units,
                                      mean_rating, l2_regularization,
                                      user_bias_weights=user_bias_weights,
                                      item_bias_weights=item_bias_weights)
        self.retrieval_task = tfrs.tasks.Retrieval(
            temperature=temperature, remove_accidental_hits=True,
            loss_metrics=[tf.keras.metrics.Mean(name="retrieval_loss")])
        # Both task losses are sums over the batch (TFRS's retrieval loss is),
        # so that equal loss weights give the tasks an equal say in the shared
        # towers; with a mean here, retrieval outweighed rating by the batch size.
        self.rating_task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.SUM),
            loss_metrics=[tf.keras.metrics.Mean(name="rating_loss")])

    def predict_rating(self, user_indices: tf.Tensor, item_indices: tf.Tensor) -> tf.Tensor:
        return self.rating_head(self.user_tower(user_indices), self.item_tower(item_indices),
                                user_indices, item_indices)

    def compute_loss(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        user_indices = tf.reshape(inputs[features.USER_INDEX], [-1])
        item_indices = tf.reshape(inputs[features.ITEM_INDEX], [-1])
        # Profiles that never hold this interaction's own text (feature_tables.py).
        profiles = {name: inputs[key] for name, key in self.training_profiles.items()}
        user_embeddings = self.user_tower(user_indices, feature_tokens=profiles)
        item_embeddings = self.item_tower(item_indices)
        loss = tf.constant(0.0)
        if self.loss_weights.retrieval > 0:
            probabilities = (None if self.item_probabilities is None
                             else tf.gather(self.item_probabilities, item_indices))
            loss += self.loss_weights.retrieval * self.retrieval_task(
                user_embeddings, item_embeddings, candidate_ids=item_indices,
                candidate_sampling_probability=probabilities, compute_metrics=False)
        if self.loss_weights.rating > 0:
            predictions = self.rating_head(user_embeddings, item_embeddings,
                                           user_indices, item_indices)
            # Interactions without a rating (NaN) take no part in the rating
            # loss (weight 0): it is the sum over the rated ones.
            ratings = tf.reshape(inputs[features.RATING], [-1])
            rated = tf.cast(tf.math.logical_not(tf.math.is_nan(ratings)), tf.float32)
            loss += self.loss_weights.rating * self.rating_task(
                labels=tf.where(rated > 0, ratings, 0.0)[:, None],
                predictions=predictions[:, None], sample_weight=rated[:, None])
        return loss
