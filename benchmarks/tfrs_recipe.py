"""The TensorFlow Recommenders multitask tutorial's model, as the tutorial trains it.

https://www.tensorflow.org/recommenders/examples/multitask: 32-d user and item
id embeddings, a rating MLP 256-128-1 on their concatenation, in-batch softmax
retrieval and MSE rating losses weighted (1, 1), Adagrad(0.1), batch 8192,
3 epochs. The one change: ids arrive as vocabulary indices rather than through
a StringLookup layer (the same embedding rows), and no FactorizedTopK metric is
computed while training (it only reports; ranking.py measures afterwards).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from mtrec.benchmarks.ranking import Interactions, Scorer

EMBEDDING_DIM = 32
BATCH_SIZE = 8192
EPOCHS = 3
LEARNING_RATE = 0.1


class TutorialModel(tfrs.models.Model):
    def __init__(self, num_users: int, num_items: int, rating_weight: float,
                 retrieval_weight: float):
        super().__init__()
        self.user_model = tf.keras.layers.Embedding(num_users + 1, EMBEDDING_DIM)
        self.item_model = tf.keras.layers.Embedding(num_items + 1, EMBEDDING_DIM)
        self.rating_model = tf.keras.Sequential([
            tf.keras.layers.Dense(256, activation="relu"),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(1)])
        self.rating_task = tfrs.tasks.Ranking(loss=tf.keras.losses.MeanSquaredError())
        self.retrieval_task = tfrs.tasks.Retrieval()
        self.rating_weight = rating_weight
        self.retrieval_weight = retrieval_weight

    def call(self, features):
        users = self.user_model(features["user"])
        items = self.item_model(features["item"])
        return users, items, self.rating_model(tf.concat([users, items], axis=1))

    def compute_loss(self, features, training=False):
        users, items, ratings = self(features)
        rating_loss = self.rating_task(labels=features["rating"][:, None], predictions=ratings)
        retrieval_loss = self.retrieval_task(users, items, compute_metrics=False)
        return self.rating_weight * rating_loss + self.retrieval_weight * retrieval_loss


def fit(train: Interactions, num_users: int, num_items: int,
        seed: int = 42) -> Tuple[Scorer, "TutorialModel"]:
    """Trains the tutorial's joint model; returns its corpus scorer and the model."""
    tf.keras.utils.set_random_seed(seed)
    rated = ~np.isnan(train.ratings)
    data = {"user": train.users[rated], "item": train.items[rated],
            "rating": train.ratings[rated].astype(np.float32)}
    dataset = (tf.data.Dataset.from_tensor_slices(data)
               .shuffle(100_000, seed=seed).batch(BATCH_SIZE).cache())
    model = TutorialModel(num_users, num_items, rating_weight=1.0, retrieval_weight=1.0)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(LEARNING_RATE))
    model.fit(dataset, epochs=EPOCHS, verbose=0)
    item_vectors = model.item_model(tf.range(num_items)).numpy()

    def scores(users: np.ndarray) -> np.ndarray:
        return model.user_model(tf.constant(users)).numpy() @ item_vectors.T
    return scores, model


def predict_ratings(model: TutorialModel, held_out: Interactions) -> np.ndarray:
    _, _, ratings = model({"user": tf.constant(held_out.users), "item": tf.constant(held_out.items)})
    return ratings.numpy().reshape(-1)
