"""Loads the latest pushed model version and answers queries in-process.

A version is a folder `<serving_dir>/<model_name>/<integer>/` holding a
SavedModel; the atomic pusher only ever renames complete folders into place,
so the newest integer folder is always a whole model.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

import numpy as np
import scann  # noqa: F401  (registers the ScaNN ops the SavedModel uses)
import tensorflow as tf

from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.serving.fast_recommend import FastRecommender
from mtrec.serving.results import Recommendation, UserRecommendations
from mtrec.serving.versions import model_base_dir, published_versions


class NoPushedModelError(UserFacingError, LookupError):
    """No blessed model has been pushed to the serving directory yet."""


class InvalidKError(UserFacingError, ValueError):
    """A number of results outside 1..max_k, the most the model's signatures return."""


class UnknownIdError(UserFacingError, LookupError):
    """Ids the model was not trained on, where the query needs a known one."""

    def __init__(self, kind: str, ids: Sequence[str]):
        self.kind, self.ids = kind, list(ids)
        shown = ", ".join(repr(i) for i in self.ids[:10]) + (" ..." if len(self.ids) > 10 else "")
        super().__init__(f"unknown {kind} {shown}: not in the training data")


def latest_version_dir(serving_dir: str, model_name: str) -> str:
    """Path of the newest pushed version; raises NoPushedModelError if none."""
    base = model_base_dir(serving_dir, model_name)
    versions = published_versions(base)
    if not versions:
        raise NoPushedModelError(
            f"no pushed model under {base}: run the pipeline until a model is blessed "
            f"(mtrec run), or point --serving-dir at the right folder")
    return os.path.join(base, str(versions[-1]))


class PushedModel:
    """One loaded SavedModel version and typed wrappers around its signatures."""

    def __init__(self, path: str, version: Optional[int] = None, fast_path: bool = True):
        """`path`: a pushed version folder (its name is the version), or any
        exported model with `version` given (e.g. 0 for a Trainer output).
        `fast_path`: answer `recommend` with ScaNN's own searcher, outside
        TensorFlow (serving/fast_recommend.py), where the model supports it;
        false, or a model pushed before it, calls the SavedModel's signatures."""
        self.path = path
        self.version = int(os.path.basename(os.path.normpath(path))) if version is None else version
        self._saved = tf.saved_model.load(path)
        self.signatures = self._saved.signatures
        self.max_k = int(self.signatures["recommend"].structured_outputs["item_ids"].shape[1])
        self.fast: Optional[FastRecommender] = (
            FastRecommender(self._saved, self.max_k)
            if fast_path and FastRecommender.supports(self._saved) else None)

    @classmethod
    def latest(cls, serving_dir: str, model_name: str) -> "PushedModel":
        return cls(latest_version_dir(serving_dir, model_name))

    def check_k(self, k: int) -> None:
        """Raises InvalidKError unless 1 <= k <= max_k."""
        if not 1 <= k <= self.max_k:
            raise InvalidKError(f"k must be in 1..{self.max_k} (the model's max_k), got {k}")

    def require_known(self, kind: str, ids: Sequence[str]) -> None:
        """Raises UnknownIdError naming the `kind` ('user' or 'item') ids the model lacks."""
        known = self.known_users(ids) if kind == "user" else self.known_items(ids)
        unknown = [i for i, is_known in zip(ids, known) if not is_known]
        if unknown:
            raise UnknownIdError(kind, unknown)

    @staticmethod
    def _rows(outputs, k: int) -> List[List[Recommendation]]:
        ids = outputs["item_ids"].numpy()[:, :k]
        titles = outputs["titles"].numpy()[:, :k]
        scores = outputs["scores"].numpy()[:, :k]
        return [[Recommendation(i.decode(), t.decode(), float(s)) for i, t, s in zip(*row)]
                for row in zip(ids, titles, scores)]

    def known_users(self, user_ids: Sequence[str]) -> np.ndarray:
        return self.signatures["is_known_user"](user_id=tf.constant(list(user_ids)))["known"].numpy()

    def known_items(self, item_ids: Sequence[str]) -> np.ndarray:
        return self.signatures["is_known_item"](item_id=tf.constant(list(item_ids)))["known"].numpy()

    def recommend(self, user_ids: Sequence[str], k: int, exclude_seen: bool = True,
                  exact: bool = False) -> List[UserRecommendations]:
        """Top-`k` items for each user (k <= max_k); unknown users get the popular
        items (the signature's cold-start fallback), in one model call."""
        self.check_k(k)
        if exact and not exclude_seen:
            raise ValueError("exact search is available with seen items excluded only")
        if self.fast is not None and not exact:
            return self.fast.recommend(user_ids, k, exclude_seen)
        name = ("recommend_exact" if exact else
                "recommend" if exclude_seen else "recommend_including_seen")
        outputs = self.signatures[name](user_id=tf.constant(list(user_ids)))
        return [UserRecommendations(user, items, bool(cold))
                for user, items, cold in zip(user_ids, self._rows(outputs, k),
                                             outputs["cold_start"].numpy())]

    def similar_items(self, item_ids: Sequence[str], k: int) -> List[List[Recommendation]]:
        """Items most similar to each (known) item, by embedding cosine similarity."""
        self.check_k(k)
        return self._rows(self.signatures["similar_items"](item_id=tf.constant(list(item_ids))), k)

    def similar_users(self, user_ids: Sequence[str], k: int) -> List[List[tuple[str, float]]]:
        """(user_id, cosine similarity) of the users most similar to each user."""
        self.check_k(k)
        outputs = self.signatures["similar_users"](user_id=tf.constant(list(user_ids)))
        return [[(u.decode(), float(s)) for u, s in zip(ids[:k], scores[:k])]
                for ids, scores in zip(outputs["user_ids"].numpy(), outputs["scores"].numpy())]

    def embedding_table(self, kind: str) -> tuple[List[str], np.ndarray]:
        """(ids, embeddings [N, d]) of every 'user' or 'item' the model knows."""
        if kind not in ("user", "item"):
            raise ValueError(f"kind must be 'user' or 'item', got {kind!r}")
        outputs = self.signatures[f"{kind}_embedding_table"]()
        return [i.decode() for i in outputs["ids"].numpy()], outputs["embeddings"].numpy()

    def predict_rating(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        outputs = self.signatures["predict_rating"](
            user_id=tf.constant(list(user_ids)), item_id=tf.constant(list(item_ids)))
        return outputs["rating"].numpy()
