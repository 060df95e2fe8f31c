"""The rating head's correction weights, fitted on held-out training ratings."""

import numpy as np
import pytest

from mtrec.trainer_module import rating_blend
from mtrec.trainer_module.rating_blend import fit_correction_weights, holdout_rows


def test_holdout_is_a_seeded_tenth_of_the_rated_rows():
    ratings = np.where(np.arange(1000) % 4 == 0, np.nan, 3.0).astype(np.float32)
    held_out = holdout_rows(ratings, 0.1, seed=7)
    assert held_out.sum() == 75  # 10% of the 750 rated rows
    assert not np.any(held_out & np.isnan(ratings))
    np.testing.assert_array_equal(held_out, holdout_rows(ratings, 0.1, seed=7))
    assert not np.array_equal(held_out, holdout_rows(ratings, 0.1, seed=8))
    assert holdout_rows(ratings, 0.2, seed=7).sum() == 150
    assert not holdout_rows(ratings, 0.0, seed=7).any()  # model.rating_holdout_share = 0


def test_no_holdout_when_it_would_be_too_small_to_fit_on():
    assert not holdout_rows(np.full(rating_blend.MIN_HOLDOUT_ROWS * 10 - 1, 4.0), 0.1, 0).any()
    assert holdout_rows(np.full(rating_blend.MIN_HOLDOUT_ROWS * 10, 4.0), 0.1, 0).sum() == 20


def test_holdout_is_capped():
    ratings = np.full(rating_blend.MAX_HOLDOUT_ROWS * 20, 4.0, np.float32)
    assert holdout_rows(ratings, 0.1, 0).sum() == rating_blend.MAX_HOLDOUT_ROWS


def test_weight_is_the_least_squares_fit_within_zero_and_one():
    rng = np.random.default_rng(0)
    correction = rng.normal(size=400)
    noise = rng.normal(scale=0.1, size=400)
    # users with 1 rating: half the correction is real; 20-99 ratings: all of it
    user_ratings = np.where(np.arange(400) < 200, 1, 30)
    residual = np.where(user_ratings == 1, 0.5, 1.0) * correction + noise
    weights = fit_correction_weights(correction, residual, user_ratings)
    assert weights.by_bin["1"][0] == pytest.approx(0.5, abs=0.03)
    assert weights.by_bin["1"][1] == 200
    assert weights.by_bin["20-99"][0] == pytest.approx(1.0, abs=0.03)
    c, r = correction[:200], residual[:200]
    fitted = np.dot(c, r) / np.dot(c, c)
    standard_error = np.sqrt(np.sum((r - fitted * c) ** 2) / 199 / np.dot(c, c))
    assert weights.by_bin["1"][0] == pytest.approx(fitted - 2 * standard_error)
    # a bin without enough held-out rows takes the overall weight
    assert weights.by_bin["2-4"] == (weights.overall, 0)
    per_user = weights.per_user(np.array([1, 30, 3, 0]), rows=5)
    np.testing.assert_allclose(per_user, np.array(
        [weights.by_bin["1"][0], weights.by_bin["20-99"][0], weights.overall, 0.0, 0.0],
        np.float32))


def test_ids_without_rated_training_rows_take_the_anchor_alone():
    """Nothing trained or validated their correction: a user or item with no
    rated training row, and the unknown (OOV) id, whose embedding row is its
    random initialisation."""
    weights = fit_correction_weights(np.ones(60), np.ones(60), np.full(60, 1))
    assert weights.overall == 1.0
    np.testing.assert_array_equal(weights.per_user(np.array([0, 2]), rows=3), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(rating_blend.item_weights(np.array([3, 0, 1]), rows=4),
                                  [1.0, 0.0, 1.0, 0.0])


def test_a_correction_within_the_noise_gets_weight_zero():
    """Fitted on a few hundred noisy ratings, a weight near 1 can be chance:
    the lower confidence bound is used."""
    rng = np.random.default_rng(1)
    correction = rng.normal(scale=0.1, size=200)
    residual = 0.3 * correction + rng.normal(scale=0.9, size=200)
    assert np.dot(correction, residual) / np.dot(correction, correction) > 0.3
    assert fit_correction_weights(correction, residual, np.full(200, 1)).overall == 0.0


def test_a_correction_that_only_hurts_gets_weight_zero():
    correction = np.array([1.0, -1.0, 2.0] * 30)
    weights = fit_correction_weights(correction, -correction, np.full(90, 3))
    assert weights.overall == 0.0 and weights.by_bin["2-4"] == (0.0, 90)


def test_a_correction_that_is_zero_gets_weight_zero():
    """The untrained head (zero epochs) is then exactly its anchor."""
    weights = fit_correction_weights(np.zeros(60), np.ones(60), np.full(60, 1))
    assert weights.overall == 0.0


def test_rows_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="correction 3, residual 2"):
        fit_correction_weights(np.zeros(3), np.zeros(2), np.zeros(3))


def test_rows_of_users_whose_ratings_all_were_held_out_are_left_out():
    """Such a user is like an unknown one (weight 0 when served); its rows
    would otherwise set the weight of users with one trained rating."""
    correction = np.ones(120)
    residual = np.where(np.arange(120) < 60, -1.0, 1.0)  # hurts the first 60
    user_ratings = np.where(np.arange(120) < 60, 0, 1)
    weights = fit_correction_weights(correction, residual, user_ratings)
    assert weights.overall == 1.0 and weights.by_bin["1"] == (1.0, 60)
