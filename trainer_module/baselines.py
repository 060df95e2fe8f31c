"""The naive rating predictors every model is judged against, fitted on the
training split: the global mean, and user + item biases.

The Trainer exports both into the model, so that the Evaluator scores them on
the same held-out interactions in the same run as the model itself
(trainer_module/evaluation.py), and the gate can ask whether the model beats
them. The quality benchmark uses the same fit (benchmarks/baselines.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

BIAS_REGULARIZATION = 5.0
BIAS_ITERATIONS = 15


@dataclasses.dataclass
class RatingBiases:
    """r = mean + user_bias[user] + item_bias[item]; the last row of each bias
    array is the out-of-vocabulary id's, zero."""

    mean: float
    user_bias: np.ndarray  # [num_users + 1]
    item_bias: np.ndarray  # [num_items + 1]

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.mean + self.user_bias[users] + self.item_bias[items]


def fit_biases(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, num_users: int,
               num_items: int, regularization: float = BIAS_REGULARIZATION,
               iterations: int = BIAS_ITERATIONS) -> RatingBiases:
    """Alternating ridge updates of the two biases (Koren 2008, §2.1) over the
    rows with a rating (NaN: none); indices num_users / num_items are the OOV
    ids and keep a zero bias. Raises ValueError when no row has a rating."""
    rated = ~np.isnan(ratings)
    users, items, ratings = users[rated], items[rated], ratings[rated].astype(np.float64)
    if len(ratings) == 0:
        raise ValueError("no training rating to fit the biases on")
    mean = float(ratings.mean())
    user_counts = np.bincount(users, minlength=num_users + 1)
    item_counts = np.bincount(items, minlength=num_items + 1)

    def ridge_mean(index, residual, counts):
        # An id without training ratings keeps a zero bias, even unregularized.
        totals = np.bincount(index, residual, minlength=len(counts))
        return np.divide(totals, counts + regularization, out=np.zeros(len(counts)),
                         where=counts + regularization > 0)

    user_bias = np.zeros(num_users + 1)
    item_bias = np.zeros(num_items + 1)
    for _ in range(iterations):
        item_bias = ridge_mean(items, ratings - mean - user_bias[users], item_counts)
        user_bias = ridge_mean(users, ratings - mean - item_bias[items], user_counts)
    user_bias[num_users] = item_bias[num_items] = 0.0
    return RatingBiases(mean, user_bias, item_bias)
