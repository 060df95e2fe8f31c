"""Id-based recommendations without TensorFlow on the request path.

`FastRecommender` answers what the SavedModel's `recommend` and
`recommend_including_seen` signatures answer, for a batch of user ids:

  1. a row lookup of each known user's embedding;
  2. a search of ScaNN's own searcher (`scann_ops_pybind`), loaded from the
     very index the SavedModel holds (its serialized state, written to a
     temporary folder), with the index's own leaves and re-scoring, one user
     per search;
  3. the user's training items removed from the returned candidates only:
     a user with s seen items asks for k + s neighbours, and the index's
     list for a smaller k is a prefix of its list for a larger one, so the
     first k unseen items are the signature's;
  4. unknown users get the most popular items, flagged cold start.

Tests check it returns the same items, in the same order, with the same
scores, as the signatures return for each user asked alone
(tests/test_fast_recommend.py). Asked in one batch, the signatures may
differ for a few users: ScaNN searches batches under 16 queries by another
path than larger ones, so their answer depends on the batch's size. What it reads from
the SavedModel: the `user_embedding_table` and `item_catalog` signatures, and
the `seen_values` / `seen_row_splits` and index state variables.
"""

from __future__ import annotations

import os
import tempfile
from typing import Dict, List, Sequence

import numpy as np
import scann  # noqa: F401  (the pybind searcher needs the ScaNN package's setup)
from scann.proto import scann_pb2
from scann.scann_ops.py import scann_ops_pybind, scann_ops_pybind_backcompat

from mtrec.serving.results import Recommendation, UserRecommendations

# The state a ScaNN index keeps in a SavedModel (scann_ops.ScannState) and the
# file each becomes in a searcher folder (scann_ops_pybind's serialized layout).
_PROTO_ASSETS = ("scann_config", "serialized_partitioner", "ah_codebook")
_ARRAY_ASSETS = ("datapoint_to_token", "hashed_dataset", "int8_dataset", "int8_multipliers",
                 "dp_norms", "dataset")
_MASKED_SCORE = float(np.finfo(np.float32).min)  # the signature's score for a seen item it kept


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """values [n] -> bool [n]: which are in `sorted_set` (a binary search each)."""
    if not len(sorted_set):
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def searcher_from_saved_index(index_state) -> scann_ops_pybind.ScannSearcher:
    """A pybind ScaNN searcher identical to the TensorFlow one whose state is
    `index_state` (the loaded `ScannState` module of a TFRS ScaNN layer)."""
    with tempfile.TemporaryDirectory(prefix="mtrec-scann-") as folder:
        for name in _PROTO_ASSETS:
            with open(os.path.join(folder, name + ".pb"), "wb") as handle:
                handle.write(getattr(index_state, name).numpy()[0])
        for name in _ARRAY_ASSETS:
            value = getattr(index_state, name).numpy()
            if np.ndim(value) > 0:  # scalars are the placeholders of assets this index lacks
                np.save(os.path.join(folder, name + ".npy"), value)
        scann_ops_pybind_backcompat.populate_and_save_assets_proto(folder)
        return scann_ops_pybind.load_searcher(folder)


class FastRecommender:
    """The recommend signatures of one loaded SavedModel, in numpy and ScaNN."""

    def __init__(self, saved, max_k: int):
        """`saved`: what `tf.saved_model.load` returned for an mtrec model that has
        the `item_catalog` signature (see `supports`); `max_k`: its signatures' k."""
        signatures = saved.signatures
        users = signatures["user_embedding_table"]()
        catalog = signatures["item_catalog"]()
        self.max_k = max_k
        self.user_rows: Dict[str, int] = {
            user.decode(): row for row, user in enumerate(users["ids"].numpy())}
        self.user_vectors = np.ascontiguousarray(users["embeddings"].numpy(), np.float32)
        self.item_ids = [item.decode() for item in catalog["item_ids"].numpy()]
        self.item_titles = [title.decode() for title in catalog["titles"].numpy()]
        index_state = saved.index._serialized_searcher
        self.index_k = scann_pb2.ScannConfig.FromString(
            index_state.scann_config.numpy()[0]).num_neighbors
        self.searcher = searcher_from_saved_index(index_state)
        self.seen_values = saved.seen_values.numpy()
        self.seen_row_splits = saved.seen_row_splits.numpy()
        # An unknown user has no seen items: the most popular, ties to the lower index.
        popularity = catalog["popularity"].numpy()
        most_popular = np.argsort(-popularity, kind="stable")[:max_k]
        self.cold_start = [Recommendation(self.item_ids[i], self.item_titles[i],
                                          float(popularity[i])) for i in most_popular]

    @staticmethod
    def supports(saved) -> bool:
        """Whether `saved` exports what this class reads (models pushed before
        the `item_catalog` signature do not)."""
        return "item_catalog" in saved.signatures and hasattr(saved, "index")

    def seen(self, row: int) -> np.ndarray:
        """The sorted item rows user `row` rated in training."""
        return self.seen_values[self.seen_row_splits[row]:self.seen_row_splits[row + 1]]

    def recommend(self, user_ids: Sequence[str], k: int,
                  exclude_seen: bool = True) -> List[UserRecommendations]:
        """Top-`k` items per user, as the `recommend` (or, with `exclude_seen`
        false, `recommend_including_seen`) signature ranks them."""
        rows = [self.user_rows.get(user) for user in user_ids]
        known = [i for i, row in enumerate(rows) if row is not None]
        results: List[UserRecommendations] = [
            UserRecommendations(user, self.cold_start[:k], True) for user in user_ids]
        if not known:
            return results
        for i in known:
            seen = self.seen(rows[i]) if exclude_seen else self.seen_values[:0]
            # One query per search: ScaNN's answer for a query depends on the
            # size of the batch it is searched in (batches under 16 take another
            # path), so a user's items must not depend on who else is asking.
            candidates, candidate_scores = self.searcher.search_batched(
                self.user_vectors[rows[i]][None, :],
                final_num_neighbors=min(self.index_k, k + len(seen)))
            candidates, candidate_scores = candidates[0], candidate_scores[0]
            is_seen = _members(candidates, seen)
            # Unseen first, then (only when too few are unseen) the seen ones at the
            # signature's masked score, each group in the index's order.
            order = np.argsort(is_seen, kind="stable")[:k].tolist()
            candidates, candidate_scores = candidates.tolist(), candidate_scores.tolist()
            flags = is_seen.tolist()
            results[i] = UserRecommendations(user_ids[i], [
                Recommendation(self.item_ids[candidates[j]], self.item_titles[candidates[j]],
                               _MASKED_SCORE if flags[j] else candidate_scores[j])
                for j in order], False)
        return results
