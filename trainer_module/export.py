"""The exported SavedModel: one module, its lookup tables, index and signatures.

Signatures (inputs are rank-1 string tensors of raw ids; `k` is `max_k`):

  serving_default, recommend   user_id -> top-k items by ScaNN, items the user
                               rated in training excluded: item_ids, titles, scores [B, k],
                               cold_start [B]; a user unknown to the model gets the most
                               popular items (cold_start true), never the arbitrary list of
                               the out-of-vocabulary embedding
  recommend_including_seen     the same without the exclusion
  recommend_exact              brute-force top-k, seen excluded (for checking the index),
                               with the same cold-start fallback
  recommend_popular            the most-interacted items of the training data, seen
                               excluded: the cold-start fallback for unknown users
  similar_items                item_id -> the items whose embeddings have the highest
                               cosine similarity, the item itself excluded
  similar_users                user_id -> user_ids, scores [B, max_k], the same for users
  user_embedding_table,        () -> ids [N], embeddings [N, d]: every user (item) of
  item_embedding_table            the training vocabulary, for export
  item_catalog                 () -> item_ids, titles, popularity [N]: every item of the
                               corpus, in index order (what a server outside TensorFlow
                               needs beside the embeddings: serving/fast_recommend.py)
  predict_rating               user_id, item_id -> rating [B]
  user_embedding               user_id -> embedding [B, d]
  item_embedding               item_id -> embedding [B, d]
  is_known_user, is_known_item id -> known [B] bool (in the training vocabulary)
  evaluate                     serialized tf.Examples (raw, as ExampleGen wrote them)
                               -> predicted_rating, rank, rank_seen_excluded [B]
                               (what TFMA evaluates; rank = number of corpus
                               items scored above the true item), and the naive
                               baselines on the same interactions:
                               popular_rank_seen_excluded (most-popular's rank),
                               mean_rating and bias_rating (when the training data
                               had ratings), corpus_size
  transformed_features         serialized tf.Examples -> user_activity, item_popularity
                               [B] bucket labels from the training data, which TFMA
                               slices the evaluation by (trainer_module/slices.py)

Ids map to vocabulary indices through tables built from Transform's vocabulary
files with Transform's out-of-vocabulary convention (index = vocabulary size),
so serving needs neither the Transform graph nor the raw schema. Loading the
model needs `import scann` first, and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import scann  # noqa: F401  (registers the ScaNN TensorFlow ops)
import tensorflow as tf

from mtrec.trainer_module import features, slices
from mtrec.trainer_module.baselines import RatingBiases
from mtrec.trainer_module.index import ScannSettings, build_scann_index, recall_against_exact
from mtrec.trainer_module.model import MultiTaskRecommender
from mtrec.trainer_module.preprocessing import ids_as_strings

_IDS = tf.TensorSpec([None], tf.string)


def vocabulary_lookup(vocabulary: Sequence[str]) -> tf.lookup.StaticHashTable:
    """string id -> index in `vocabulary`; unknown ids -> len(vocabulary) (the OOV bucket)."""
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(vocabulary), tf.string),
            tf.range(len(vocabulary), dtype=tf.int64)),
        default_value=len(vocabulary))


RANK_HASH_BUCKETS = 1 << 20
NOT_RANKED = -1  # the rank `evaluate` returns for an interaction outside the sample


def ranked_user_buckets(num_users: int, max_users: int) -> int:
    """How many of RANK_HASH_BUCKETS the sampled users' ids hash into."""
    return min(RANK_HASH_BUCKETS, -(-RANK_HASH_BUCKETS * max_users // max(num_users, 1)))


def ranked_users(user_ids: tf.Tensor, buckets: int) -> tf.Tensor:
    """True for the users whose held-out interactions are ranked: a fixed hash
    of the id, so the same users on every run, runner and model version."""
    return tf.strings.to_hash_bucket_fast(user_ids, RANK_HASH_BUCKETS) < buckets


class RecommenderModule(tf.Module):
    """Everything serving needs, as one trackable object."""

    def __init__(self, model: MultiTaskRecommender, user_vocabulary: Sequence[str],
                 item_vocabulary: Sequence[str], seen_items: tf.RaggedTensor,
                 item_titles: Mapping[str, str], item_counts: np.ndarray, max_k: int,
                 raw_feature_spec: Mapping[str, tf.io.FixedLenFeature],
                 top_k_max_users: int, rating_biases: Optional[RatingBiases] = None):
        """`item_counts` [num_items]: training interactions per item (popularity);
        `evaluate` ranks the interactions of a hash sample of at most
        `top_k_max_users` users (see `ranked_users`), and scores the
        `rating_biases` baselines (None: the training data had no ratings)."""
        super().__init__(name="recommender")
        num_items = len(item_vocabulary)
        self.model = model
        self.max_k = min(max_k, num_items)
        self.user_lookup = vocabulary_lookup(user_vocabulary)
        self.item_lookup = vocabulary_lookup(item_vocabulary)
        self.item_ids = tf.constant(list(item_vocabulary), tf.string)
        self.user_ids = tf.constant(list(user_vocabulary), tf.string)
        self.item_titles = tf.constant([item_titles.get(i, "") for i in item_vocabulary], tf.string)
        candidates = model.item_tower(tf.range(num_items, dtype=tf.int64))
        self.candidates = tf.Variable(candidates, trainable=False, name="candidates")
        self.popularity = tf.Variable(np.asarray(item_counts, np.float32), trainable=False,
                                      name="popularity")
        # An unknown user has no seen items, so the cold-start list is one constant.
        most_popular = np.argsort(-np.asarray(item_counts), kind="stable")[: self.max_k]
        self.cold_start_items = tf.constant(most_popular, tf.int64)
        # Seen items per user index; the OOV user's row is empty.
        self.seen_values = tf.Variable(seen_items.values, trainable=False, name="seen_values")
        self.seen_row_splits = tf.Variable(seen_items.row_splits, trainable=False,
                                           name="seen_row_splits")
        max_seen = int(np.max(np.diff(seen_items.row_splits.numpy()), initial=0))
        # The index returns enough candidates to still hold max_k after the
        # user's seen items are removed.
        self.index_settings = ScannSettings.for_corpus(num_items, self.max_k + max_seen)
        self.index = build_scann_index(candidates, self.index_settings)
        user_ratings = np.diff(seen_items.row_splits.numpy())[:len(user_vocabulary)]
        self.user_activity = tf.constant(
            list(slices.user_activity_buckets(user_ratings)), tf.string)
        self.item_popularity = tf.constant(
            list(slices.item_popularity_buckets(item_counts)), tf.string)
        self.ranked_user_buckets = ranked_user_buckets(len(user_vocabulary), top_k_max_users)
        self.rating_biases = None
        if rating_biases is not None:
            self.rating_biases = {
                "mean": tf.constant(rating_biases.mean, tf.float32),
                "user": tf.Variable(rating_biases.user_bias.astype(np.float32), trainable=False,
                                    name="baseline_user_bias"),
                "item": tf.Variable(rating_biases.item_bias.astype(np.float32), trainable=False,
                                    name="baseline_item_bias")}
        self._eval_feature_spec = {
            name: raw_feature_spec[name]
            for name in (features.USER_ID, features.ITEM_ID)}

    # -- helpers -------------------------------------------------------------

    def _user_vectors(self, user_id: tf.Tensor):
        user_index = self.user_lookup.lookup(user_id)
        return user_index, self.model.user_tower(user_index)

    def _seen_mask(self, user_index: tf.Tensor) -> tf.Tensor:
        """[B, num_items] bool: True where the user rated the item in training."""
        seen = tf.RaggedTensor.from_row_splits(self.seen_values, self.seen_row_splits)
        rows = tf.gather(seen, user_index).to_sparse()
        positions = tf.stack([rows.indices[:, 0], rows.values], axis=1)
        shape = tf.stack([tf.shape(user_index, out_type=tf.int64)[0],
                          tf.shape(self.candidates, out_type=tf.int64)[0]])
        counts = tf.scatter_nd(positions, tf.ones_like(rows.values, tf.int32), shape)
        return counts > 0

    def _seen_among(self, user_index: tf.Tensor, corpus_indices: tf.Tensor) -> tf.Tensor:
        """[B, K] bool: True where `corpus_indices` [B, K] holds an item the user
        rated in training. A binary search in each user's sorted seen row, so
        memory grows with the batch's seen items, not with the corpus."""
        seen = tf.RaggedTensor.from_row_splits(self.seen_values, self.seen_row_splits)
        past_every_item = tf.int64.max  # pads each row, keeping it sorted
        rows = tf.gather(seen, user_index).to_tensor(default_value=past_every_item)
        rows = tf.concat([rows, tf.fill([tf.shape(rows)[0], 1], past_every_item)], axis=1)
        positions = tf.searchsorted(rows, corpus_indices)
        return tf.gather(rows, positions, batch_dims=1) == corpus_indices

    def _top_k(self, scores: tf.Tensor, corpus_indices: tf.Tensor) -> Dict[str, tf.Tensor]:
        top = tf.math.top_k(scores, k=self.max_k)
        chosen = tf.gather(corpus_indices, top.indices, batch_dims=1)
        shape = [None, self.max_k]  # static, so clients can read max_k from the signature
        return {
            "item_ids": tf.ensure_shape(tf.gather(self.item_ids, chosen), shape),
            "titles": tf.ensure_shape(tf.gather(self.item_titles, chosen), shape),
            "scores": tf.ensure_shape(top.values, shape),
        }

    def _with_cold_start(self, user_index: tf.Tensor,
                         personal: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Replaces the rows of unknown users by the most popular items."""
        cold = user_index >= self.user_lookup.size()
        batch = tf.shape(user_index)[0]
        fallback = {
            "item_ids": tf.gather(self.item_ids, self.cold_start_items),
            "titles": tf.gather(self.item_titles, self.cold_start_items),
            "scores": tf.gather(self.popularity, self.cold_start_items),
        }
        outputs = {name: tf.where(cold[:, None], tf.tile(fallback[name][None, :], [batch, 1]), value)
                   for name, value in personal.items()}
        outputs["cold_start"] = cold
        return outputs

    def _approximate(self, user_id: tf.Tensor, exclude_seen: bool) -> Dict[str, tf.Tensor]:
        user_index, vectors = self._user_vectors(user_id)
        scores, corpus_indices = self.index(vectors)
        corpus_indices = tf.cast(corpus_indices, tf.int64)
        if exclude_seen:
            scores = tf.where(self._seen_among(user_index, corpus_indices), tf.float32.min, scores)
        return self._with_cold_start(user_index, self._top_k(scores, corpus_indices))

    # -- signatures ----------------------------------------------------------

    @tf.function(input_signature=[_IDS])
    def recommend(self, user_id):
        return self._approximate(user_id, exclude_seen=True)

    @tf.function(input_signature=[_IDS])
    def recommend_including_seen(self, user_id):
        return self._approximate(user_id, exclude_seen=False)

    @tf.function(input_signature=[_IDS])
    def recommend_exact(self, user_id):
        user_index, vectors = self._user_vectors(user_id)
        scores = tf.matmul(vectors, self.candidates, transpose_b=True)
        scores = tf.where(self._seen_mask(user_index), tf.float32.min, scores)
        corpus = tf.range(tf.shape(self.candidates, out_type=tf.int64)[0])
        return self._with_cold_start(user_index, self._top_k(
            scores, tf.broadcast_to(corpus, tf.shape(scores, out_type=tf.int64))))

    @tf.function(input_signature=[_IDS])
    def recommend_popular(self, user_id):
        seen = self._seen_mask(self.user_lookup.lookup(user_id))
        scores = tf.where(seen, tf.float32.min,
                          tf.broadcast_to(self.popularity, tf.shape(seen)))
        corpus = tf.range(tf.shape(self.candidates, out_type=tf.int64)[0])
        return self._top_k(scores, tf.broadcast_to(corpus, tf.shape(scores, out_type=tf.int64)))

    @tf.function(input_signature=[_IDS])
    def similar_items(self, item_id):
        item_index = self.item_lookup.lookup(item_id)
        normalized = tf.math.l2_normalize(self.candidates, axis=1)
        num_items = tf.shape(self.candidates, out_type=tf.int64)[0]
        query = tf.gather(normalized, tf.minimum(item_index, num_items - 1))
        scores = tf.matmul(query, normalized, transpose_b=True)
        corpus = tf.range(num_items)
        scores = tf.where(corpus[None, :] == item_index[:, None], tf.float32.min, scores)
        return self._top_k(scores, tf.broadcast_to(corpus, tf.shape(scores, out_type=tf.int64)))

    @tf.function(input_signature=[_IDS])
    def similar_users(self, user_id):
        user_index = self.user_lookup.lookup(user_id)
        num_users = tf.shape(self.user_ids, out_type=tf.int64)[0]
        table = tf.math.l2_normalize(self.model.user_tower(tf.range(num_users)), axis=1)
        query = tf.math.l2_normalize(self.model.user_tower(user_index), axis=1)
        scores = tf.matmul(query, table, transpose_b=True)
        users = tf.range(num_users)
        scores = tf.where(users[None, :] == user_index[:, None], tf.float32.min, scores)
        top = tf.math.top_k(scores, k=tf.minimum(self.max_k, tf.cast(num_users, tf.int32)))
        return {"user_ids": tf.gather(self.user_ids, top.indices), "scores": top.values}

    @tf.function(input_signature=[])
    def user_embedding_table(self):
        num_users = tf.shape(self.user_ids, out_type=tf.int64)[0]
        return {"ids": self.user_ids, "embeddings": self.model.user_tower(tf.range(num_users))}

    @tf.function(input_signature=[])
    def item_embedding_table(self):
        return {"ids": self.item_ids, "embeddings": tf.identity(self.candidates)}

    @tf.function(input_signature=[])
    def item_catalog(self):
        return {"item_ids": self.item_ids, "titles": self.item_titles,
                "popularity": tf.identity(self.popularity)}

    @tf.function(input_signature=[_IDS, _IDS])
    def predict_rating(self, user_id, item_id):
        rating = self.model.predict_rating(self.user_lookup.lookup(user_id),
                                           self.item_lookup.lookup(item_id))
        return {"rating": rating}

    @tf.function(input_signature=[_IDS])
    def user_embedding(self, user_id):
        return {"embedding": self._user_vectors(user_id)[1]}

    @tf.function(input_signature=[_IDS])
    def item_embedding(self, item_id):
        return {"embedding": self.model.item_tower(self.item_lookup.lookup(item_id))}

    @tf.function(input_signature=[_IDS])
    def is_known_user(self, user_id):
        return {"known": self.user_lookup.lookup(user_id) < self.user_lookup.size()}

    @tf.function(input_signature=[_IDS])
    def is_known_item(self, item_id):
        return {"known": self.item_lookup.lookup(item_id) < self.item_lookup.size()}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def evaluate(self, examples):
        parsed = tf.io.parse_example(examples, self._eval_feature_spec)
        user_ids = ids_as_strings(parsed[features.USER_ID])
        all_users = self.user_lookup.lookup(user_ids)
        all_items = self.item_lookup.lookup(ids_as_strings(parsed[features.ITEM_ID]))
        # Only the sampled users' interactions are scored against the corpus.
        rows = tf.where(ranked_users(user_ids, self.ranked_user_buckets))
        user_index = tf.gather_nd(all_users, rows)
        item_index = tf.gather_nd(all_items, rows)
        num_items = tf.shape(self.candidates, out_type=tf.int64)[0]
        user_vectors = self.model.user_tower(user_index)
        scores = tf.matmul(user_vectors, self.candidates, transpose_b=True)
        # An item outside the training vocabulary is not in the corpus: it can
        # never be recommended, so it counts as a miss (rank = corpus size).
        in_corpus = item_index < num_items
        true_item = tf.minimum(item_index, num_items - 1)
        unseen = ~self._seen_mask(user_index)
        true_scores = tf.gather(scores, true_item, batch_dims=1)
        above = scores > true_scores[:, None]
        rank = tf.reduce_sum(tf.cast(above, tf.int64), axis=1)
        rank_unseen = tf.reduce_sum(tf.cast(above & unseen, tf.int64), axis=1)
        # Most-popular ranks by training interactions, with the same definition.
        popular_above = self.popularity[None, :] > tf.gather(self.popularity, true_item)[:, None]
        popular_rank = tf.reduce_sum(tf.cast(popular_above & unseen, tf.int64), axis=1)
        not_ranked = tf.fill(tf.shape(all_users), tf.constant(NOT_RANKED, tf.int64))

        def per_example(ranks):
            return tf.tensor_scatter_nd_update(not_ranked, rows,
                                               tf.where(in_corpus, ranks, num_items))

        outputs = {
            features.RANK_OUTPUT: per_example(rank),
            features.RANK_SEEN_EXCLUDED_OUTPUT: per_example(rank_unseen),
            features.POPULAR_RANK_OUTPUT: per_example(popular_rank),
            features.RATING_OUTPUT: self.model.predict_rating(all_users, all_items),
            features.CORPUS_SIZE_OUTPUT: tf.fill(tf.shape(all_users), num_items),
        }
        if self.rating_biases is not None:
            mean = tf.fill(tf.shape(all_users), self.rating_biases["mean"])
            outputs[features.MEAN_RATING_OUTPUT] = mean
            outputs[features.BIAS_RATING_OUTPUT] = (
                mean + tf.gather(self.rating_biases["user"], all_users)
                + tf.gather(self.rating_biases["item"], all_items))
        return outputs

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transformed_features(self, examples):
        parsed = tf.io.parse_example(examples, self._eval_feature_spec)
        user_index = self.user_lookup.lookup(ids_as_strings(parsed[features.USER_ID]))
        item_index = self.item_lookup.lookup(ids_as_strings(parsed[features.ITEM_ID]))
        return {slices.USER_ACTIVITY: tf.gather(self.user_activity, user_index),
                slices.ITEM_POPULARITY: tf.gather(self.item_popularity, item_index)}

    def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
        recommend = self.recommend.get_concrete_function()
        return {
            "serving_default": recommend,
            "recommend": recommend,
            "recommend_including_seen": self.recommend_including_seen.get_concrete_function(),
            "recommend_exact": self.recommend_exact.get_concrete_function(),
            "recommend_popular": self.recommend_popular.get_concrete_function(),
            "similar_items": self.similar_items.get_concrete_function(),
            "similar_users": self.similar_users.get_concrete_function(),
            "user_embedding_table": self.user_embedding_table.get_concrete_function(),
            "item_embedding_table": self.item_embedding_table.get_concrete_function(),
            "item_catalog": self.item_catalog.get_concrete_function(),
            "predict_rating": self.predict_rating.get_concrete_function(),
            "user_embedding": self.user_embedding.get_concrete_function(),
            "item_embedding": self.item_embedding.get_concrete_function(),
            "is_known_user": self.is_known_user.get_concrete_function(),
            "is_known_item": self.is_known_item.get_concrete_function(),
            "evaluate": self.evaluate.get_concrete_function(),
            "transformed_features": self.transformed_features.get_concrete_function(),
        }


def _median_latency_ms(function, user_ids: Sequence[str]) -> float:
    """Median wall time of one single-user call (the first call traces, untimed)."""
    function(tf.constant(list(user_ids[:1])))
    times = []
    for user in user_ids:
        start = time.perf_counter()
        function(tf.constant([user]))
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def measure_index_quality(module: RecommenderModule, user_ids: Sequence[str],
                          latency_users: int = 50) -> Dict[str, object]:
    """Recall@max_k of the ScaNN `recommend` against brute-force `recommend_exact`,
    and the median single-user latency of both."""
    approximate = module.recommend(tf.constant(list(user_ids)))["item_ids"].numpy()
    exact = module.recommend_exact(tf.constant(list(user_ids)))["item_ids"].numpy()
    timed = list(user_ids[:latency_users])
    return {
        "recall_at_k": recall_against_exact(approximate, exact),
        "k": module.max_k,
        "users": len(user_ids),
        "scann_p50_ms": _median_latency_ms(module.recommend, timed),
        "exact_p50_ms": _median_latency_ms(module.recommend_exact, timed),
        "scann": dataclasses.asdict(module.index_settings),
    }


def save(module: RecommenderModule, export_dir: str, index_quality: Dict[str, object]) -> None:
    """Writes the SavedModel (the ScaNN ops allowed by namespace) and, beside it in
    assets.extra/, the index quality measured before saving."""
    tf.saved_model.save(module, export_dir, signatures=module.signatures(),
                        options=tf.saved_model.SaveOptions(namespace_whitelist=["Scann"]))
    path = os.path.join(export_dir, features.INDEX_QUALITY_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(index_quality, handle, indent=2)
