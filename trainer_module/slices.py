"""Evaluation slices: user activity and item popularity buckets.

TFMA slices on features of the evaluated examples, and a held-out rating
carries only ids. The buckets are a property of the *training* data (how many
ratings the user gave, how popular the item was), which the exported model
already holds (seen items per user, interactions per item). So the model
exports one more signature, `transformed_features`, that maps the raw
examples to two bucket labels; TFMA's TransformedFeaturesExtractor calls a
signature of that name on its own when the model has one (and skips it when
it does not: a baseline exported before the signature existed still
evaluates), and `SlicingSpec(feature_keys=[...])` finds the labels there.

Chosen over a feature written at ExampleGen time: that would need a second
pass over the data (a group-by on users and on items of the training split)
and add columns every downstream component sees; here the cost is one table
lookup per example inside the Evaluator, and the buckets always agree with
the model being evaluated. The Evaluator's extra time goes to the metrics
computed per bucket (measured: docs/benchmarks.md).

- user activity: the user's number of training ratings, in fixed bins
  (`0` is a user unknown to the model: cold start);
- item popularity: items sorted by training interactions; `head` holds the
  most popular items that together have a third of the interactions, `torso`
  the next third, `tail` the rest, `unseen` an item not in training.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

USER_ACTIVITY = "user_activity"
ITEM_POPULARITY = "item_popularity"
SLICE_FEATURES = (USER_ACTIVITY, ITEM_POPULARITY)

# Lower bounds of the user-activity bins (training ratings per user).
ACTIVITY_BINS = (1, 10, 50, 200)
COLD_START = "0 (cold start)"
UNSEEN_ITEM = "unseen"


def activity_labels(bins: Sequence[int] = ACTIVITY_BINS) -> List[str]:
    """The label of each bin, e.g. ['1-9', '10-49', '50-199', '200+']."""
    labels = [f"{low}-{high - 1}" for low, high in zip(bins, bins[1:])]
    return labels + [f"{bins[-1]}+"]


def user_activity_buckets(ratings_per_user: np.ndarray) -> np.ndarray:
    """[num_users] training ratings -> [num_users + 1] labels; the last row is the OOV user."""
    labels = np.array(activity_labels(), dtype=object)
    counts = np.asarray(ratings_per_user)
    bucket = np.searchsorted(np.asarray(ACTIVITY_BINS), counts, side="right") - 1
    out = np.where(bucket >= 0, labels[np.maximum(bucket, 0)], COLD_START)
    return np.append(out, COLD_START).astype(object)


def item_popularity_buckets(item_counts: np.ndarray) -> np.ndarray:
    """[num_items] training interactions -> [num_items + 1] labels; the last row is OOV."""
    counts = np.asarray(item_counts, dtype=np.float64)
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    # Share of all interactions held by the items before each one in popularity order.
    before = (np.cumsum(counts[order]) - counts[order]) / (total if total > 0 else 1.0)
    ranked = np.where(before < 1 / 3, "head", np.where(before < 2 / 3, "torso", "tail"))
    labels = np.empty(len(counts), dtype=object)
    labels[order] = ranked
    labels[counts == 0] = UNSEEN_ITEM
    return np.append(labels, UNSEEN_ITEM).astype(object)
