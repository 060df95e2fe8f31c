"""Ranking metrics (docs/pipeline.md#metrics) in NumPy, for any model that scores the corpus.

The pipeline's Evaluator computes top-K accuracy in TFMA from the exported
model; the quality benchmark also needs it for baselines that are not TFX
models, and per-user Recall@10 / NDCG@10, which TFMA's per-example metrics
cannot express. The definitions are the Evaluator's, so the two agree on the
same model (tests/test_quality_benchmark.py checks that):

  rank                 corpus items scored strictly above the held-out item
  rank, seen excluded  the same, not counting the user's training items
  top-K accuracy       mean over held-out interactions of 1[rank < K]; an
                       item outside the training corpus is a miss
  Recall@K (per user)  |top K ∩ held-out items| / |held-out items|, the top K
                       taken with training items removed; mean over users
  NDCG@K (per user)    DCG of that top K (gain 1 per held-out item, 1/log2(rank+2))
                       over the ideal DCG of min(K, |held-out items|) hits
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Sequence

import numpy as np

# scores(user_indices [B]) -> [B, num_items]; users are train-vocabulary indices
# and num_users (one past the last) stands for a user unseen in training.
Scorer = Callable[[np.ndarray], np.ndarray]

USER_BATCH = 256


@dataclasses.dataclass(frozen=True)
class Interactions:
    """One split as index arrays over the training vocabularies.

    A user or item absent from training has index num_users / num_items.
    `ratings` holds NaN where an interaction has no rating.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray


def seen_matrix(train: Interactions, num_users: int, num_items: int) -> np.ndarray:
    """[num_users + 1, num_items] bool: True where the user interacted in training."""
    seen = np.zeros((num_users + 1, num_items), dtype=bool)
    seen[train.users, train.items] = True
    return seen


def ranking_metrics(scores: Scorer, train: Interactions, held_out: Interactions,
                    num_users: int, num_items: int,
                    top_k: Sequence[int] = (10, 100), per_user_k: int = 10) -> Dict[str, float]:
    """Top-K accuracy (both definitions) and per-user Recall/NDCG@`per_user_k`."""
    seen = seen_matrix(train, num_users, num_items)
    ranks = np.full(len(held_out.users), num_items, dtype=np.int64)
    ranks_unseen = ranks.copy()
    in_corpus = held_out.items < num_items
    recalls, ndcgs = [], []
    discounts = 1.0 / np.log2(np.arange(per_user_k) + 2.0)
    order = np.argsort(held_out.users, kind="stable")
    users, starts = np.unique(held_out.users[order], return_index=True)
    relevant_items = dict(zip(users.tolist(), np.split(held_out.items[order], starts[1:])))
    for start in range(0, len(users), USER_BATCH):
        batch = users[start:start + USER_BATCH]
        batch_scores = np.asarray(scores(batch), dtype=np.float64)
        row_of = {user: row for row, user in enumerate(batch)}
        rows_seen = seen[batch]
        mask = np.isin(held_out.users, batch) & in_corpus
        rows = np.array([row_of[u] for u in held_out.users[mask]], dtype=np.int64)
        true_scores = batch_scores[rows, held_out.items[mask]]
        above = batch_scores[rows] > true_scores[:, None]
        ranks[mask] = above.sum(axis=1)
        ranks_unseen[mask] = (above & ~rows_seen[rows]).sum(axis=1)
        # Per-user lists: the top per_user_k items with training items removed.
        unseen_scores = np.where(rows_seen, -np.inf, batch_scores)
        top = np.argsort(-unseen_scores, axis=1, kind="stable")[:, :per_user_k]
        for row, user in enumerate(batch):
            relevant = set(relevant_items[user].tolist())
            hits = np.array([item in relevant for item in top[row]], dtype=np.float64)
            recalls.append(hits.sum() / len(relevant))
            ideal = discounts[:min(per_user_k, len(relevant))].sum()
            ndcgs.append(float((hits * discounts[:len(hits)]).sum() / ideal))
    metrics = {}
    for k in top_k:
        metrics[f"top_{k}_accuracy"] = float(np.mean(ranks < k))
        metrics[f"top_{k}_accuracy_seen_excluded"] = float(np.mean(ranks_unseen < k))
    metrics[f"recall_at_{per_user_k}"] = float(np.mean(recalls))
    metrics[f"ndcg_at_{per_user_k}"] = float(np.mean(ndcgs))
    return metrics


def rmse(predicted: np.ndarray, held_out: Interactions) -> float:
    """RMSE over held-out interactions that have a rating."""
    rated = ~np.isnan(held_out.ratings)
    return float(np.sqrt(np.mean((held_out.ratings[rated] - predicted[rated]) ** 2)))
