"""The Evaluator's top-K ranks a fixed hash sample of users: the exported
`evaluate` signature scores exactly the sampled users' interactions, their
ranks equal an unsampled model's, and the metric skips the rest."""

import numpy as np
import tensorflow as tf

from mtrec.trainer_module import export, features
from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender

USERS = [f"u{i}" for i in range(300)]
ITEMS = [f"i{i}" for i in range(40)]


def _module(top_k_max_users: int) -> export.RecommenderModule:
    tf.keras.utils.set_random_seed(0)
    model = MultiTaskRecommender(num_users=len(USERS), num_items=len(ITEMS), embedding_dim=8,
                                 loss_weights=LossWeights(1.0, 1.0))
    seen = tf.RaggedTensor.from_row_lengths(
        np.arange(len(USERS) + 1, dtype=np.int64) % len(ITEMS),
        np.ones(len(USERS) + 1, dtype=np.int64))  # user k has seen item k mod 40
    spec = {features.USER_ID: tf.io.FixedLenFeature([], tf.string),
            features.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}
    return export.RecommenderModule(
        model=model, user_vocabulary=USERS, item_vocabulary=ITEMS, seen_items=seen,
        item_titles={}, item_counts=np.ones(len(ITEMS)), max_k=10, raw_feature_spec=spec,
        top_k_max_users=top_k_max_users)


def _interactions():
    rng = np.random.default_rng(1)
    return [(user, item) for user in range(len(USERS))
            for item in rng.choice(len(ITEMS), 3, replace=False)]


def _examples(interactions):
    records = []
    for user, item in interactions:
        example = tf.train.Example()
        example.features.feature[features.USER_ID].bytes_list.value.append(USERS[user].encode())
        example.features.feature[features.ITEM_ID].bytes_list.value.append(ITEMS[item].encode())
        records.append(example.SerializeToString())
    return tf.constant(records)


def _reference_ranks(module, interactions):
    """Ranks computed in NumPy from the module's own embeddings (every user)."""
    users = module.model.user_tower(tf.range(len(USERS), dtype=tf.int64)).numpy()
    items = module.candidates.numpy()
    ranks, unseen_ranks = [], []
    for user, item in interactions:
        scores = users[user] @ items.T
        above = scores > scores[item]
        seen = user % len(ITEMS)
        ranks.append(above.sum())
        unseen_ranks.append(above.sum() - above[seen])
    return np.array(ranks), np.array(unseen_ranks)


def test_ranked_user_buckets_cover_the_share_of_users():
    assert export.ranked_user_buckets(1_000, 20_000) == export.RANK_HASH_BUCKETS
    assert export.ranked_user_buckets(200_000, 20_000) == export.RANK_HASH_BUCKETS // 10 + 1


def test_evaluate_ranks_only_the_sampled_users_and_ranks_them_exactly():
    interactions = _interactions()
    module = _module(top_k_max_users=100)
    outputs = module.evaluate(_examples(interactions))
    expected = dict(zip((features.RANK_OUTPUT, features.RANK_SEEN_EXCLUDED_OUTPUT),
                        _reference_ranks(module, interactions)))
    users = np.array([user for user, _ in interactions])
    sampled = export.ranked_users(tf.constant(USERS), module.ranked_user_buckets).numpy()
    kept = sampled[users]
    assert 60 <= sampled.sum() <= 140  # about a third of 300 users
    for output, reference in expected.items():
        ranks = outputs[output].numpy()
        np.testing.assert_array_equal(ranks[kept], reference[kept])
        assert (ranks[~kept] == export.NOT_RANKED).all()
    assert np.isfinite(outputs[features.RATING_OUTPUT].numpy()).all()


def test_the_sample_is_the_same_users_on_every_call():
    ids = tf.constant(USERS)
    first = export.ranked_users(ids, export.ranked_user_buckets(300, 100)).numpy()
    assert np.array_equal(first, export.ranked_users(ids, export.ranked_user_buckets(300, 100)))
    assert 0 < first.sum() < 300
