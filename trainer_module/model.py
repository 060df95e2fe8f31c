"""The multi-task recommender: a retrieval task and a rating task on shared towers.

    user tower u = E_user[user],  item tower v = E_item[item]
                (plus mean-pooled side-feature embeddings when enabled: towers.py)
    retrieval:  softmax over in-batch items of <u, v> / temperature - log q(item)
                (q = the item's share of training interactions: in-batch
                negatives are sampled by popularity, and without this logQ
                correction the scores learn to penalise popular items)
    rating:     r_hat = anchor(user, item) + w[user] * w[item] * correction
                correction = d_mu + d_user + d_item + MLP([u, v])
                (anchor = the ridge user + item biases fitted before training,
                baselines.py, fixed; the trained parts start at zero, so the
                head starts as the bias model and moves only where the data
                pulls it: on sparse data an unanchored head fell below even the
                global mean. The weights, in [0, 1], are 1 while training and
                are then fitted on ratings the rating loss never saw:
                rating_blend.py)
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
from mtrec.trainer_module.baselines import RatingBiases
from mtrec.pipeline.runtime.tf_autograph import leave_tf_keras_unconverted
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
    """Predicts a rating from the two tower outputs, as a weighted correction to
    fixed user + item biases (the anchor)."""

    def __init__(self, num_users: int, num_items: int, embedding_dim: int,
                 hidden_units: Tuple[int, ...], anchor: RatingBiases,
                 l2_regularization: float = 0.0, name: str = "rating_head",
                 user_bias_weights: Optional[np.ndarray] = None,
                 item_bias_weights: Optional[np.ndarray] = None):
        """Builds the MLP, the anchor, and the trained per-id and global offsets.

        Args:
            num_users: number of user ids in the vocabulary, OOV bucket
                excluded; the user offsets have `num_users + NUM_OOV_BUCKETS` rows.
            num_items: the same for items and the item offsets.
            embedding_dim: width of each tower output; the MLP reads their
                concatenation, [batch, 2 * embedding_dim].
            hidden_units: widths of the MLP's ReLU layers, in order, before its
                final linear layer of width 1 (zero-initialised, so that the
                untrained head predicts the anchor exactly); empty: that
                linear layer alone.
            anchor: the fixed part of every prediction, mean + user bias +
                item bias (`fit_biases` on the training ratings); its bias
                arrays have at most `num_users + NUM_OOV_BUCKETS` (items: the
                same) rows, rows past their end are 0 (else ValueError).
            l2_regularization: coefficient of the L2 penalty on the offset rows
                each call looks up, summed over the batch (`RowL2Embedding`),
                which pulls each id back to its anchor bias; 0 disables it.
                The MLP is not regularised.
            name: the Keras model name.
            user_bias_weights: float [at most num_users + NUM_OOV_BUCKETS], per-id
                weight of the user offsets' L2 (rows past its end weigh 1), e.g.
                `inverse_batch_frequency`; None: every looked-up row weighs 1.
            item_bias_weights: the same for the item offsets.
        """
        super().__init__(name=name)
        self.mlp = tf.keras.Sequential(
            [tf.keras.layers.Dense(units, activation="relu") for units in hidden_units]
            + [tf.keras.layers.Dense(1, kernel_initializer="zeros")], name="mlp")
        # Built now: a retrieval-only model never calls the head while training,
        # and Keras refuses to list the variables of an unbuilt Sequential.
        self.mlp.build((None, 2 * embedding_dim))
        oov = features.NUM_OOV_BUCKETS
        self.anchor_mean = tf.Variable(0.0, trainable=False, name="anchor_mean")
        self.anchor_user = tf.Variable(tf.zeros([num_users + oov]), trainable=False,
                                       name="anchor_user_bias")
        self.anchor_item = tf.Variable(tf.zeros([num_items + oov]), trainable=False,
                                       name="anchor_item_bias")
        self.set_anchor(anchor)
        # The offsets take the towers' L2: unregularised, they fit each training
        # rating and RMSE rises after a few epochs (docs/benchmarks.md).
        self.user_bias = RowL2Embedding(num_users + oov, 1, l2_regularization, user_bias_weights,
                                        embeddings_initializer="zeros", name="user_bias")
        self.item_bias = RowL2Embedding(num_items + oov, 1, l2_regularization, item_bias_weights,
                                        embeddings_initializer="zeros", name="item_bias")
        self.global_bias = tf.Variable(0.0, dtype=tf.float32, name="global_bias")
        # How much of the correction the prediction takes, the product of a
        # per-user and a per-item weight; 1 while training, set afterwards by
        # `set_correction_weights`.
        self.user_correction_weight = tf.Variable(tf.ones([num_users + oov]), trainable=False,
                                                  name="user_correction_weight")
        self.item_correction_weight = tf.Variable(tf.ones([num_items + oov]), trainable=False,
                                                  name="item_correction_weight")

    def anchor(self, user_indices, item_indices) -> tf.Tensor:
        """The fixed bias prediction, [batch]."""
        return (self.anchor_mean + tf.gather(self.anchor_user, user_indices)
                + tf.gather(self.anchor_item, item_indices))

    def correction(self, user_embeddings, item_embeddings, user_indices, item_indices
                   ) -> tf.Tensor:
        """What training learned on top of the anchor, unweighted, [batch]."""
        correction = (self.mlp(tf.concat([user_embeddings, item_embeddings], axis=1))
                      + self.user_bias(user_indices) + self.item_bias(item_indices)
                      + self.global_bias)
        return tf.reshape(correction, [-1])

    def call(self, user_embeddings, item_embeddings, user_indices, item_indices) -> tf.Tensor:
        """Returns predicted ratings, [batch]."""
        weight = (tf.gather(self.user_correction_weight, user_indices)
                  * tf.gather(self.item_correction_weight, item_indices))
        return (self.anchor(user_indices, item_indices) + weight
                * self.correction(user_embeddings, item_embeddings, user_indices, item_indices))

    def set_anchor(self, anchor: RatingBiases) -> None:
        """Replaces the fixed biases (for the export: see trainer.py); rows past
        the end of its bias arrays are 0, and longer arrays raise ValueError."""
        self.anchor_mean.assign(anchor.mean)
        self.anchor_user.assign(_padded(anchor.user_bias, self.anchor_user.shape[0], "user"))
        self.anchor_item.assign(_padded(anchor.item_bias, self.anchor_item.shape[0], "item"))

    def set_correction_weights(self, user_weights: np.ndarray, item_weights: np.ndarray
                               ) -> None:
        """user_weights: float [num_users + NUM_OOV_BUCKETS], item_weights: the
        same for items; each in [0, 1] (else ValueError)."""
        for variable, weights, what in ((self.user_correction_weight, user_weights, "user"),
                                        (self.item_correction_weight, item_weights, "item")):
            weights = np.asarray(weights, np.float32)
            if weights.shape != tuple(variable.shape):
                raise ValueError(f"{what} correction weights have shape {weights.shape}, "
                                 f"the head {tuple(variable.shape)}")
            if np.any((weights < 0) | (weights > 1)):
                raise ValueError(f"{what} correction weights must lie in [0, 1]")
        self.user_correction_weight.assign(np.asarray(user_weights, np.float32))
        self.item_correction_weight.assign(np.asarray(item_weights, np.float32))


def _padded(bias: np.ndarray, rows: int, what: str) -> np.ndarray:
    """`bias` as float32 [rows], zeros past its end."""
    if len(bias) > rows:
        raise ValueError(f"anchor {what} bias has {len(bias)} rows, the head {rows}")
    padded = np.zeros(rows, np.float32)
    padded[:len(bias)] = bias
    return padded


class MultiTaskRecommender(tfrs.Model):
    """Two towers, a retrieval task and a rating task, combined by `LossWeights`."""

    def __init__(self, num_users: int, num_items: int, embedding_dim: int,
                 loss_weights: LossWeights, rating_hidden_units: Tuple[int, ...] = (64, 32),
                 rating_anchor: Optional[RatingBiases] = None, l2_regularization: float = 0.0,
                 temperature: float = 1.0, item_probabilities: Optional[np.ndarray] = None,
                 user_features: Sequence[FeatureTable] = (),
                 item_features: Sequence[FeatureTable] = (),
                 user_bias_weights: Optional[np.ndarray] = None,
                 item_bias_weights: Optional[np.ndarray] = None):
        """Builds both towers, the rating head and the two tasks.

        Args:
            num_users: number of user ids in the vocabulary, OOV bucket
                excluded; the user tower embeds `num_users + NUM_OOV_BUCKETS`
                indices.
            num_items: the same for items and the item tower.
            embedding_dim: width of each tower output (the retrieval score is
                the dot product of the two).
            loss_weights: weights of the retrieval and rating losses in the
                total loss; a task with weight 0 is not computed.
            rating_hidden_units: widths of the rating head's ReLU MLP layers
                (see `RatingHead`).
            rating_anchor: the rating head's fixed user + item biases (see
                `RatingHead`); None: all zero (data without ratings).
            l2_regularization: L2 coefficient shared by the towers' id and
                side-feature embeddings and the rating head's offsets, applied
                to the rows each step looks up (`RowL2Embedding`); 0 disables it.
            temperature: the retrieval logits <u, v> are divided by it before
                the in-batch softmax; 1 leaves them unscaled.
            item_probabilities: float [num_items], sampling probability of each
                item in a batch (its share of training interactions), for the
                logQ correction; the OOV item gets 1 (no correction). None
                disables the correction.
            user_features: side-feature tables the user tower pools, each with
                `num_users + NUM_OOV_BUCKETS` rows; a table with
                `training_tokens` set is replaced in training by that batch
                feature (the interaction's out-of-fold profile). Empty: ids only.
            item_features: the same for the item tower (always its table rows).
            user_bias_weights: per-id weights of the user bias's L2, see
                `RatingHead`; None: every looked-up row weighs 1.
            item_bias_weights: the same for the item bias.
        """
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
        if rating_anchor is None:
            oov = features.NUM_OOV_BUCKETS
            rating_anchor = RatingBiases(0.0, np.zeros(num_users + oov), np.zeros(num_items + oov))
        self.rating_head = RatingHead(num_users, num_items, embedding_dim, rating_hidden_units,
                                      rating_anchor, l2_regularization,
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

    def rating_correction(self, user_indices: tf.Tensor, item_indices: tf.Tensor) -> tf.Tensor:
        """The rating head's unweighted correction to its anchor, as served, [batch]."""
        return self.rating_head.correction(self.user_tower(user_indices),
                                           self.item_tower(item_indices),
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
