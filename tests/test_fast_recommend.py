"""The fast recommend path (ScaNN's own searcher, no TensorFlow per request)
answers exactly what the SavedModel's signatures answer for each user asked
alone: the same items, in the same order, with the same scores, for every
user, known or not, in any batch and for any k. Checked on saved, untrained models (an index that
searches a third of its leaves; a user who rated all but three items; users
with nothing rated) and on the pushed sample model."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from mtrec.serving.loader import PushedModel
from mtrec.trainer_module import export, features
from mtrec.trainer_module.index import ScannSettings
from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender

COLD_USERS = ["never-seen", "also-unknown"]


def _signature(model: PushedModel, users, exclude_seen: bool):
    """(item ids, titles, scores, cold start) per user, from the signature,
    each user asked alone (ScaNN's answer depends on the batch's size)."""
    name = "recommend" if exclude_seen else "recommend_including_seen"
    rows = []
    for user in users:
        out = model.signatures[name](user_id=tf.constant([user]))
        rows.append(([i.decode() for i in out["item_ids"].numpy()[0]],
                     [t.decode() for t in out["titles"].numpy()[0]],
                     [float(s) for s in out["scores"].numpy()[0]],
                     bool(out["cold_start"].numpy()[0])))
    return rows


def _fast(model: PushedModel, users, k: int, exclude_seen: bool):
    return [([r.item_id for r in row.items], [r.title for r in row.items],
             [r.score for r in row.items], row.cold_start)
            for row in model.fast.recommend(list(users), k, exclude_seen)]


def _truncated(rows, k: int):
    return [(ids[:k], titles[:k], scores[:k], cold) for ids, titles, scores, cold in rows]


def _assert_same_as_signatures(model: PushedModel, users) -> None:
    assert model.fast is not None, "the model should support the fast path"
    for exclude_seen in (True, False):
        expected = _signature(model, users, exclude_seen)
        assert _fast(model, users, model.max_k, exclude_seen) == expected
        for k in (1, 10):  # a smaller k asks the index for fewer neighbours
            assert _fast(model, users, k, exclude_seen) == _truncated(expected, k)
        for user, row in zip(users[:40], expected[:40]):  # batches of one
            assert _fast(model, [user], 10, exclude_seen) == _truncated([row], 10)


def _saved_model(path, num_items: int, seen_counts, max_k: int) -> PushedModel:
    """A saved, untrained model over `num_items` items; user i rated
    `seen_counts[i]` random items (the last user: none)."""
    users = [f"u{i}" for i in range(len(seen_counts))]
    items = [f"i{i}" for i in range(num_items)]
    rng = np.random.default_rng(7)
    tf.keras.utils.set_random_seed(0)
    model = MultiTaskRecommender(num_users=len(users), num_items=num_items, embedding_dim=16,
                                 loss_weights=LossWeights(1.0, 1.0))
    rows = [np.sort(rng.choice(num_items, count, replace=False)) for count in seen_counts] + [[]]
    seen = tf.RaggedTensor.from_row_lengths(
        np.concatenate([np.asarray(row, np.int64) for row in rows]),
        np.array([len(row) for row in rows], np.int64))
    spec = {features.USER_ID: tf.io.FixedLenFeature([], tf.string),
            features.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
    counts = rng.integers(0, 5, num_items).astype(np.float64)  # many ties in popularity
    module = export.RecommenderModule(
        model=model, user_vocabulary=users, item_vocabulary=items, seen_items=seen,
        item_titles={item: f"title of {item}" for item in items[::2]}, item_counts=counts,
        max_k=max_k, raw_feature_spec=spec, top_k_max_users=100)
    export.save(module, str(path), index_quality={})
    return PushedModel(str(path))


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory) -> PushedModel:
    """5,000 items, whose index searches a third of its leaves; users rate 0-60."""
    seen_counts = np.random.default_rng(3).integers(0, 61, 300)
    settings = ScannSettings.for_corpus(5000, 20 + int(seen_counts.max()))
    assert settings.num_leaves_to_search < settings.num_leaves / 2  # far from exhaustive
    return _saved_model(tmp_path_factory.mktemp("synthetic") / "1", 5000, seen_counts, 20)


def test_matches_the_signatures(synthetic_model):
    users = sorted(synthetic_model.fast.user_rows) + COLD_USERS
    _assert_same_as_signatures(synthetic_model, users)


def test_a_user_who_rated_almost_everything_gets_the_signatures_padding(tmp_path):
    model = _saved_model(tmp_path / "1", 50, [47, 3, 0], max_k=10)
    _assert_same_as_signatures(model, ["u0", "u1", "u2"] + COLD_USERS)
    (row,) = model.fast.recommend(["u0"], 10, exclude_seen=True)
    scores = [r.score for r in row.items]
    assert len(scores) == 10 and scores[3:] == [float(np.finfo(np.float32).min)] * 7


def test_cold_start_users_get_the_most_popular_items(synthetic_model):
    rows = synthetic_model.fast.recommend(COLD_USERS + ["u5"], 10, exclude_seen=True)
    assert [row.cold_start for row in rows] == [True, True, False]
    scores = [r.score for r in rows[0].items]
    assert scores == sorted(scores, reverse=True)


def test_without_the_fast_path_the_signatures_answer(synthetic_model):
    plain = PushedModel(synthetic_model.path, fast_path=False)
    assert plain.fast is None
    users = ["u4", "u5", "never-seen"]
    assert ([[(r.item_id, r.score) for r in row.items] for row in plain.recommend(users, 10)]
            == [[(r.item_id, r.score) for r in row.items]
                for row in synthetic_model.recommend(users, 10)])


@pytest.mark.e2e
def test_matches_the_signatures_for_every_user_of_the_sample(sample_run):
    assert sample_run.exit_code == 0, sample_run.output
    model = PushedModel.latest(str(sample_run.serving_dir), "recommender")
    users = sorted(model.fast.user_rows) + COLD_USERS
    _assert_same_as_signatures(model, users)
