"""Reference models every quality table shows beside the project's.

Each is fitted on the training split only and scores with the definitions in
ranking.py. Users or items unseen in training (index num_users / num_items)
get the global mean, a zero bias, or the popularity ranking.
"""

from __future__ import annotations

import numpy as np

from mtrec.benchmarks.ranking import Interactions, Scorer
from mtrec.trainer_module.baselines import BIAS_ITERATIONS, BIAS_REGULARIZATION, fit_biases


def global_mean(train: Interactions, held_out: Interactions) -> np.ndarray:
    """Predicts the mean training rating for every held-out interaction."""
    return np.full(len(held_out.users), np.nanmean(train.ratings))


def biases(train: Interactions, held_out: Interactions, num_users: int, num_items: int,
           regularization: float = BIAS_REGULARIZATION,
           iterations: int = BIAS_ITERATIONS) -> np.ndarray:
    """r = mu + b_user + b_item: the fit the Trainer exports for the Evaluator's
    baseline (trainer_module/baselines.py)."""
    fitted = fit_biases(train.users, train.items, train.ratings, num_users, num_items,
                        regularization, iterations)
    return fitted.predict(held_out.users, held_out.items)


def most_popular(train: Interactions, num_items: int) -> Scorer:
    """Every user gets the items ranked by their number of training interactions."""
    popularity = np.bincount(train.items, minlength=num_items)[:num_items].astype(np.float64)
    return lambda users: np.broadcast_to(popularity, (len(users), num_items))


def ease(train: Interactions, num_users: int, num_items: int,
         regularization: float = 500.0) -> Scorer:
    """EASE (Steck 2019): an item-item linear model with a closed-form solution.

    B = I - P / diag(P), P = (XᵀX + λI)⁻¹, scores = X B, X the binary
    user-item matrix. A user with no training items falls back to popularity.
    """
    interactions = np.zeros((num_users + 1, num_items), dtype=np.float32)
    interactions[train.users, train.items] = 1.0
    gram = interactions.T @ interactions
    gram[np.diag_indices(num_items)] += regularization
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)
    weights[np.diag_indices(num_items)] = 0.0
    popularity = interactions.sum(axis=0)
    has_history = interactions.sum(axis=1) > 0

    def scores(users: np.ndarray) -> np.ndarray:
        personal = interactions[users] @ weights
        return np.where(has_history[users, None], personal, popularity[None, :])
    return scores
