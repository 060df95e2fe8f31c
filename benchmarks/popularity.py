"""Most-popular top-K on a pipeline run's own split, at any size.

The quality benchmark ranks with dense users x items matrices (ranking.py),
which at MovieLens 25M's shape would take 10 GB. Popularity ranks the same
items for everyone, so a held-out item's rank is the number of items more
popular than it, less those of them the user saw in training: two sorted
searches per interaction. The ranks follow ranking.py's definition (items
scored strictly above the true item; an item unseen in training never
ranks), and the users are the Evaluator's hash sample (export.ranked_users),
so the number sits beside the model's top-K from the same run.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def seen_excluded_ranks(train_users: np.ndarray, train_items: np.ndarray,
                        eval_users: np.ndarray, eval_items: np.ndarray,
                        num_items: int) -> np.ndarray:
    """Each held-out interaction's rank under popularity, the user's training items
    excluded; `num_items` for an item unseen in training (index >= num_items)."""
    popularity = np.bincount(train_items, minlength=num_items)[:num_items]
    more_popular = num_items - np.searchsorted(np.sort(popularity), popularity, side="right")
    in_corpus = eval_items < num_items
    true_popularity = np.where(in_corpus, popularity[np.minimum(eval_items, num_items - 1)], 0)
    # Training (user, popularity) pairs sorted as one key: a user's items are a
    # contiguous run, ordered by popularity.
    stride = int(popularity.max(initial=0)) + 1
    keys = np.sort(train_users.astype(np.int64) * stride + popularity[train_items])
    user_end = np.searchsorted(keys, (eval_users.astype(np.int64) + 1) * stride, side="left")
    not_above = np.searchsorted(keys, eval_users.astype(np.int64) * stride + true_popularity,
                                side="right")
    ranks = more_popular[np.minimum(eval_items, num_items - 1)] - (user_end - not_above)
    return np.where(in_corpus, ranks, num_items)


def _ids(split_folder: str) -> Tuple[pa.Array, pa.Array]:
    """The user and item ids of a split's records, as strings (ids_as_strings' form)."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    from mtrec.trainer_module import features

    decoder = example_coder.ExamplesToRecordBatchDecoder()
    users, items = [], []
    files = sorted(glob.glob(os.path.join(split_folder, "*.gz")))
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(100_000):
        records = decoder.DecodeBatch(batch.numpy().tolist())
        users.append(pc.list_flatten(records.column(features.USER_ID)).cast(pa.string()))
        items.append(pc.list_flatten(records.column(features.ITEM_ID)).cast(pa.string()))
    return pa.chunked_array(users).combine_chunks(), pa.chunked_array(items).combine_chunks()


def most_popular_top_k(examples_uri: str, top_k_max_users: int,
                       ks: Sequence[int] = (100,)) -> Dict[str, float]:
    """top_K_accuracy_seen_excluded of most-popular on the Examples artifact's
    split, over the held-out interactions of the Evaluator's user sample."""
    import tensorflow as tf

    from mtrec.components.split_example_gen import EVAL_SPLIT, TRAIN_SPLIT
    from mtrec.trainer_module import export

    train_users, train_items = _ids(os.path.join(examples_uri, f"Split-{TRAIN_SPLIT}"))
    eval_users, eval_items = _ids(os.path.join(examples_uri, f"Split-{EVAL_SPLIT}"))
    user_ids, item_ids = pc.unique(train_users), pc.unique(train_items)

    def index(values: pa.Array, vocabulary: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.index_in(values, value_set=vocabulary),
                            len(vocabulary)).to_numpy().astype(np.int64)

    buckets = export.ranked_user_buckets(len(user_ids), top_k_max_users)
    sampled = export.ranked_users(tf.constant(eval_users.to_pylist()), buckets).numpy()
    ranks = seen_excluded_ranks(index(train_users, user_ids), index(train_items, item_ids),
                                index(eval_users, user_ids)[sampled],
                                index(eval_items, item_ids)[sampled], len(item_ids))
    return {f"top_{k}_accuracy_seen_excluded": float(np.mean(ranks < k)) for k in ks}
