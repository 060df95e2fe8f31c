"""How much of the rating head's learned correction to trust, per user.

The head predicts `anchor + w_user * w_item * correction` (model.py): the
anchor is the user + item biases the gate compares with, the correction what
training learned on top of them. Training cannot tell when the correction
overfits (on data where most users rate once it made the head worse than the
anchor), so a share of the training ratings is held out of the rating loss
only (retrieval still trains on them). After training, each bin of users by
how many of their ratings trained the correction (for a held-out row, the
user's other rated rows; when serving, all of them) gets

    w = clip(<c, r - anchor> / <c, c> - 2 se, 0, 1)   over its held-out rows

the least-squares weight less two of its standard errors, so that a weight
above 0 needs evidence that the correction helps, not a noisy estimate.
w = 0 makes the head the anchor itself; w = 1 trusts training as it is. A
bin with too few held-out rows takes the weight fitted over all of them. A
user or item without a rated training row (one unknown to the model
included) gets weight 0: no rating trained its part of the correction or
validated it, and an unknown id's embedding row is its random initialisation.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import numpy as np

MAX_HOLDOUT_ROWS = 20_000  # enough to fit a few weights; the rest train the head
MIN_HOLDOUT_ROWS = 20    # fewer: no holdout, the correction is trusted as trained
MIN_BIN_ROWS = 50        # a bin with fewer held-out rows takes the overall weight
# The weight used is the fit's lower confidence bound, this many standard
# errors below it: a bin of a few hundred noisy ratings fitted weight 1 where
# 0.26 fitted its eval split, and the head lost to the biases.
CONFIDENCE_Z = 2.0
# Lower bounds of the bins of users by rated training rows; finer at the low
# end than the evaluation slices, because that is where the correction overfits.
ACTIVITY_BINS = (1, 2, 5, 20, 100)


def holdout_rows(ratings: np.ndarray, share: float, seed: int) -> np.ndarray:
    """bool [rows]: the seeded sample of `share` of the rated rows (ratings not
    NaN), at most MAX_HOLDOUT_ROWS, kept out of the rating loss; all False when
    it would be under MIN_HOLDOUT_ROWS."""
    rated = np.flatnonzero(~np.isnan(ratings))
    size = min(int(share * len(rated)), MAX_HOLDOUT_ROWS)
    mask = np.zeros(len(ratings), bool)
    if size >= MIN_HOLDOUT_ROWS:
        mask[np.random.default_rng([seed, 1]).choice(rated, size, replace=False)] = True
    return mask


def _bin_labels() -> Tuple[str, ...]:
    pairs = zip(ACTIVITY_BINS, ACTIVITY_BINS[1:])
    return tuple(str(low) if high == low + 1 else f"{low}-{high - 1}" for low, high in pairs) + (
        f"{ACTIVITY_BINS[-1]}+",)


def _bins(ratings_per_user: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(ACTIVITY_BINS), ratings_per_user, side="right") - 1


def _least_squares_weight(correction: np.ndarray, residual: np.ndarray) -> float:
    """The lower confidence bound of the least-squares weight, within [0, 1]."""
    energy = float(np.dot(correction, correction))
    if energy == 0.0 or len(correction) < 2:
        return 0.0  # nothing learned, or nothing to judge it by: the anchor alone
    weight = float(np.dot(correction, residual)) / energy
    noise = float(np.sum((residual - weight * correction) ** 2)) / (len(correction) - 1)
    standard_error = (noise / energy) ** 0.5
    return float(np.clip(weight - CONFIDENCE_Z * standard_error, 0.0, 1.0))


@dataclasses.dataclass(frozen=True)
class CorrectionWeights:
    """The fitted weights: `overall`, and per bin label (weight, held-out rows)."""

    overall: float
    by_bin: Dict[str, Tuple[float, int]]

    def per_user(self, ratings_per_user: np.ndarray, rows: int) -> np.ndarray:
        """float32 [rows]: each user's weight by its bin; 0 for a user without
        rated training rows and for rows past `ratings_per_user` (the OOV user)."""
        weights = np.zeros(rows, np.float32)
        table = np.array([self.by_bin[label][0] for label in _bin_labels()], np.float32)
        counts = np.asarray(ratings_per_user)
        weights[:len(counts)] = np.where(counts > 0, table[np.maximum(_bins(counts), 0)], 0.0)
        return weights

    def as_dict(self) -> Dict[str, object]:
        return {"overall": self.overall,
                "by_training_ratings": {label: {"weight": weight, "held_out_rows": rows}
                                        for label, (weight, rows) in self.by_bin.items()}}


def item_weights(ratings_per_item: np.ndarray, rows: int) -> np.ndarray:
    """float32 [rows]: 1 for an item with rated training rows, else 0 (rows past
    `ratings_per_item` too: the OOV item)."""
    weights = np.zeros(rows, np.float32)
    weights[:len(ratings_per_item)] = np.asarray(ratings_per_item) > 0
    return weights


def fit_correction_weights(correction: np.ndarray, residual: np.ndarray,
                           user_ratings: np.ndarray) -> CorrectionWeights:
    """The weights from the held-out rows.

    Args:
        correction: float [rows], the head's correction at each held-out row.
        residual: float [rows], rating minus the anchor's prediction there.
        user_ratings: int [rows], the rated training rows of each row's user
            that the rating loss saw. Rows of a user with none are left out:
            they behave like unknown users, who get weight 0 anyway.
    """
    if not len(correction) == len(residual) == len(user_ratings):
        raise ValueError(f"held-out rows differ in length: correction {len(correction)}, "
                         f"residual {len(residual)}, user ratings {len(user_ratings)}")
    trained = np.asarray(user_ratings) > 0
    correction = np.asarray(correction, np.float64)[trained]
    residual = np.asarray(residual, np.float64)[trained]
    overall = _least_squares_weight(correction, residual)
    bins = _bins(np.asarray(user_ratings)[trained])
    by_bin = {}
    for position, label in enumerate(_bin_labels()):
        rows = bins == position
        count = int(rows.sum())
        weight = (_least_squares_weight(correction[rows], residual[rows])
                  if count >= MIN_BIN_ROWS else overall)
        by_bin[label] = (weight, count)
    return CorrectionWeights(overall, by_bin)
