"""Feature names shared by Transform, Trainer, the exported model and the Evaluator.

The canonical raw columns come out of the dataset readers; the transformed
features are what the model trains on. This module imports no TensorFlow, so
the components, the data readers and the serving code can share its names.
"""

from __future__ import annotations

import dataclasses
import os

# Canonical raw columns.
USER_ID = "user_id"
ITEM_ID = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"

# Transformed features: vocabulary indices produced by Transform.
USER_INDEX = "user_index"
ITEM_INDEX = "item_index"

# Vocabulary file names in the Transform graph. The item vocabulary is the
# retrieval candidate corpus: index i of the corpus is line i of this file.
USER_VOCABULARY = "user_id"
ITEM_VOCABULARY = "item_id"

# The exported model's record of its index recall against exact search,
# written by the Trainer's export and read by the Pusher, relative to the model.
INDEX_QUALITY_FILE = os.path.join("assets.extra", "index_quality.json")

# Out-of-vocabulary ids share one bucket, at index len(vocabulary).
NUM_OOV_BUCKETS = 1

# Optional side-feature columns, denormalised into the ratings rows by the
# dataset readers: the item's title, its genres ('|'-separated, may be empty)
# and the summary text of the user's review (may be empty).
TITLE = "title"
GENRES = "genres"
REVIEW_SUMMARY = "review_summary"


# Timestamps become quantile time buckets (over the training rows); the
# tables keep each item's / user's few most frequent buckets.
TIME_BUCKETS = 32
TIME_BUCKETS_PER_ROW = 4


@dataclasses.dataclass(frozen=True)
class SideFeature:
    """One optional side feature, from raw column to the Trainer's lookup table.

    Transform maps the column to token indices (`tokens`, sparse [batch, None])
    either through the vocabulary `vocabulary`, bounded by `top_k` and
    `frequency_threshold` (tokens counted over interaction rows), with
    NUM_OOV_BUCKETS for the rest, or, when `num_buckets` > 0 (a numeric
    column), as one quantile bucket index in [0, num_buckets) per row that has
    a value. The Trainer keeps at most `max_length` tokens per item (user) in
    its table: a user's most frequent tokens; an item's longest token list
    (an attribute of the item, the same on each of its rows) or, when
    `per_interaction` (a value that differs between an item's rows), its most
    frequent tokens.
    """

    column: str
    tokens: str
    max_length: int
    vocabulary: str = ""
    top_k: int = 0
    frequency_threshold: int = 0
    num_buckets: int = 0
    per_interaction: bool = False


# The timestamp is both an item and a user feature: one transformed feature
# feeds both towers' tables.
TIME_BUCKET_FEATURE = SideFeature(TIMESTAMP, tokens="time_buckets",
                                  max_length=TIME_BUCKETS_PER_ROW, num_buckets=TIME_BUCKETS,
                                  per_interaction=True)

ITEM_SIDE_FEATURES = {
    TITLE: SideFeature(TITLE, tokens="title_tokens", vocabulary="title_tokens",
                       top_k=20_000, frequency_threshold=2, max_length=16),
    GENRES: SideFeature(GENRES, tokens="genre_indices", vocabulary="genres",
                        top_k=1_000, frequency_threshold=1, max_length=8),
    TIMESTAMP: TIME_BUCKET_FEATURE,
}
USER_SIDE_FEATURES = {
    REVIEW_SUMMARY: SideFeature(REVIEW_SUMMARY, tokens="summary_tokens",
                                vocabulary="summary_tokens", top_k=20_000,
                                frequency_threshold=2, max_length=64, per_interaction=True),
    TIMESTAMP: TIME_BUCKET_FEATURE,
}

# Outputs of the exported model's `evaluate` signature, read by TFMA.
RANK_OUTPUT = "rank"
RANK_SEEN_EXCLUDED_OUTPUT = "rank_seen_excluded"
RATING_OUTPUT = "predicted_rating"
# The naive baselines, scored on the same interactions (trainer_module/baselines.py):
# most-popular's rank (seen excluded), the training mean and user + item biases.
POPULAR_RANK_OUTPUT = "popular_rank_seen_excluded"
MEAN_RATING_OUTPUT = "mean_rating"
BIAS_RATING_OUTPUT = "bias_rating"
CORPUS_SIZE_OUTPUT = "corpus_size"  # items the model ranks, for the gated K

# Evaluation metric names.
TOP_K_VALUES = (1, 5, 10, 50, 100)
RMSE_METRIC = "rmse"
MEAN_RMSE_METRIC = "global_mean_rmse"
BIAS_RMSE_METRIC = "bias_rmse"
GATED_K_METRIC = "gated_k"
CORPUS_SIZE_METRIC = "corpus_size"
LIFT_METRIC = "lift_over_most_popular"  # at the gated K, seen excluded
RMSE_GAIN_METRIC = "rmse_gain_over_biases"
# The gated K is at most this share of the corpus: top-100 of 40 items is 1.0 by construction.
MAX_K_SHARE_OF_CORPUS = 1 / 5


def top_k_metric_name(k: int, seen_excluded: bool) -> str:
    """'top_100_accuracy' (TFRS definition) or 'top_100_accuracy_seen_excluded'."""
    return f"top_{k}_accuracy" + ("_seen_excluded" if seen_excluded else "")


def popular_top_k_metric_name(k: int) -> str:
    """'most_popular_top_100_accuracy_seen_excluded'."""
    return "most_popular_" + top_k_metric_name(k, seen_excluded=True)


def gated_k(configured_k: int, corpus_size: int) -> int:
    """The K the gate uses: `configured_k`, or, when it is over
    MAX_K_SHARE_OF_CORPUS of the corpus, the largest of TOP_K_VALUES within that
    share (1 at least)."""
    limit = corpus_size * MAX_K_SHARE_OF_CORPUS
    if configured_k <= limit:
        return configured_k
    return max([k for k in TOP_K_VALUES if k <= limit], default=1)


def k_of_metric(name: str) -> int:
    """100 for 'top_100_accuracy_seen_excluded'."""
    return int(name.split("_")[1])
