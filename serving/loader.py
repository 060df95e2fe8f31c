"""Loads the latest pushed model version and answers queries in-process.

A version is a folder `<serving_dir>/<model_name>/<integer>/` holding a
SavedModel; the atomic pusher only ever renames complete folders into place,
so the newest integer folder is always a whole model.
"""

from __future__ import annotations

import dataclasses
import os
from typing import List, Sequence

import numpy as np
import scann  # noqa: F401  (registers the ScaNN ops the SavedModel uses)
import tensorflow as tf

from mtrec.serving.versions import published_versions


class NoPushedModelError(LookupError):
    """No blessed model has been pushed to the serving directory yet."""


@dataclasses.dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    score: float


def latest_version_dir(serving_dir: str, model_name: str) -> str:
    """Path of the newest pushed version; raises NoPushedModelError if none."""
    base = os.path.join(serving_dir, model_name)
    versions = published_versions(base)
    if not versions:
        raise NoPushedModelError(
            f"no pushed model under {base}: run the pipeline until a model is blessed "
            f"(mtrec run), or point --serving-dir at the right folder")
    return os.path.join(base, str(versions[-1]))


class PushedModel:
    """One loaded SavedModel version and typed wrappers around its signatures."""

    def __init__(self, path: str):
        self.path = path
        self.version = int(os.path.basename(os.path.normpath(path)))
        self._saved = tf.saved_model.load(path)
        self._signatures = self._saved.signatures
        self.max_k = int(self._signatures["recommend"].structured_outputs["item_ids"].shape[1])

    @classmethod
    def latest(cls, serving_dir: str, model_name: str) -> "PushedModel":
        return cls(latest_version_dir(serving_dir, model_name))

    def is_known_user(self, user_id: str) -> bool:
        return bool(self._signatures["is_known_user"](user_id=tf.constant([user_id]))["known"][0])

    def is_known_item(self, item_id: str) -> bool:
        return bool(self._signatures["is_known_item"](item_id=tf.constant([item_id]))["known"][0])

    def recommend(self, user_ids: Sequence[str], k: int, exclude_seen: bool = True,
                  exact: bool = False) -> List[List[Recommendation]]:
        """Top-`k` items for each user (k <= max_k)."""
        if not 1 <= k <= self.max_k:
            raise ValueError(f"k must be in 1..{self.max_k} (the model's max_k), got {k}")
        if exact and not exclude_seen:
            raise ValueError("exact search is available with seen items excluded only")
        name = ("recommend_exact" if exact else
                "recommend" if exclude_seen else "recommend_including_seen")
        outputs = self._signatures[name](user_id=tf.constant(list(user_ids)))
        ids = outputs["item_ids"].numpy()[:, :k]
        titles = outputs["titles"].numpy()[:, :k]
        scores = outputs["scores"].numpy()[:, :k]
        return [[Recommendation(i.decode(), t.decode(), float(s)) for i, t, s in zip(*row)]
                for row in zip(ids, titles, scores)]

    def predict_rating(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        outputs = self._signatures["predict_rating"](
            user_id=tf.constant(list(user_ids)), item_id=tf.constant(list(item_ids)))
        return outputs["rating"].numpy()
