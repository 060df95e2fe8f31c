"""The ScaNN approximate-nearest-neighbour index over the item corpus.

ScaNN's stock settings (100 leaves, 10 searched) are tuned for corpora of
millions; they are coarse for small ones. Here the tree is sized from the
corpus and from k:

  * about sqrt(N) leaves of about sqrt(N) items each;
  * enough leaves searched to hold ~20 k candidate items (at least 5% of the
    leaves): re-scoring only sees items from searched leaves, so searching
    too few caps recall however much is re-scored. Small corpora end up
    searching every leaf, which is exact;
  * exact re-scoring of max(4 k, 256) candidates.

Recall against exact search is measured when the model is exported.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scann  # noqa: F401  (registers the ScaNN TensorFlow ops)
import tensorflow as tf
import tensorflow_recommenders as tfrs


@dataclasses.dataclass(frozen=True)
class ScannSettings:
    """How the ScaNN tree is built and searched."""

    k: int
    num_leaves: int
    num_leaves_to_search: int
    num_reordering_candidates: int

    @classmethod
    def for_corpus(cls, num_items: int, k: int) -> "ScannSettings":
        """Settings for a corpus of `num_items` answering top-`k` queries."""
        if num_items < 1:
            raise ValueError("the item corpus is empty: nothing to index")
        k = min(k, num_items)
        num_leaves = max(1, min(num_items, round(math.sqrt(num_items))))
        items_per_leaf = num_items / num_leaves
        to_search = max(math.ceil(0.05 * num_leaves), math.ceil(20 * k / items_per_leaf))
        return cls(
            k=k,
            num_leaves=num_leaves,
            num_leaves_to_search=min(num_leaves, to_search),
            num_reordering_candidates=min(num_items, max(4 * k, 256)),
        )


def build_scann_index(candidates: tf.Tensor, settings: ScannSettings) -> tfrs.layers.factorized_top_k.ScaNN:
    """A ScaNN layer over `candidates` [N, d]; it returns (scores, corpus indices)."""
    index = tfrs.layers.factorized_top_k.ScaNN(
        k=settings.k,
        num_leaves=settings.num_leaves,
        num_leaves_to_search=settings.num_leaves_to_search,
        num_reordering_candidates=settings.num_reordering_candidates,
        distance_measure="dot_product",
    )
    index.index(candidates)
    return index


def recall_against_exact(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each row of `exact` top-k indices found by `approximate`."""
    hits = [len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact)]
    return float(np.mean(hits))
