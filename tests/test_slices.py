"""Evaluation slice buckets computed from the training data."""

import numpy as np

from mtrec.trainer_module.slices import (COLD_START, UNSEEN_ITEM, activity_labels,
                                         item_popularity_buckets, user_activity_buckets)


def test_user_activity_bins_and_the_unknown_user():
    labels = user_activity_buckets(np.array([1, 9, 10, 49, 50, 199, 200, 1000]))
    assert list(labels) == ["1-9", "1-9", "10-49", "10-49", "50-199", "50-199", "200+", "200+",
                            COLD_START]  # the last row is the out-of-vocabulary user
    assert activity_labels() == ["1-9", "10-49", "50-199", "200+"]


def test_item_popularity_splits_interactions_in_thirds():
    # 200 interactions: the first item alone holds half (head), the next a quarter.
    labels = item_popularity_buckets(np.array([10, 100, 50, 30, 5, 5, 0]))
    assert list(labels) == ["tail", "head", "torso", "tail", "tail", "tail", UNSEEN_ITEM,
                            UNSEEN_ITEM]


def test_equal_popularity_is_split_by_share_not_by_id():
    labels = item_popularity_buckets(np.full(9, 4))
    assert list(labels[:9]).count("head") == 3 and list(labels[:9]).count("tail") == 3
