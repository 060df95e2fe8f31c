"""Feature names shared by Transform, Trainer, the exported model and the Evaluator.

The canonical raw columns (DESIGN.md §4) come out of the dataset readers; the
transformed features are what the model trains on.
"""

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

# Out-of-vocabulary ids share one bucket, at index len(vocabulary).
NUM_OOV_BUCKETS = 1

# Outputs of the exported model's `evaluate` signature, read by TFMA.
RANK_OUTPUT = "rank"
RANK_SEEN_EXCLUDED_OUTPUT = "rank_seen_excluded"
RATING_OUTPUT = "predicted_rating"

# Evaluation metric names.
TOP_K_VALUES = (1, 5, 10, 50, 100)
RMSE_METRIC = "rmse"


def top_k_metric_name(k: int, seen_excluded: bool) -> str:
    """'top_100_accuracy' (TFRS definition) or 'top_100_accuracy_seen_excluded'."""
    return f"top_{k}_accuracy" + ("_seen_excluded" if seen_excluded else "")
