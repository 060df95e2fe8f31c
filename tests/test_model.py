"""Towers, tasks and loss weighting of the multi-task model."""

import numpy as np
import pytest
import tensorflow as tf

from mtrec.trainer_module import features
from mtrec.trainer_module.baselines import RatingBiases
from mtrec.trainer_module.feature_tables import FeatureTable
from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender
from mtrec.trainer_module.towers import IdTower, RowL2Embedding, inverse_batch_frequency

BATCH = {
    features.USER_INDEX: tf.constant([0, 1, 2, 1], tf.int64),
    features.ITEM_INDEX: tf.constant([3, 0, 1, 2], tf.int64),
    features.RATING: tf.constant([4.0, 2.0, 5.0, 3.0]),
}


# mean 3.5, user biases [0.5, -0.5, 0, OOV 0], item biases [0.2, 0, 0, -0.2, OOV 0]
ANCHOR = RatingBiases(3.5, np.array([0.5, -0.5, 0.0, 0.0]), np.array([0.2, 0.0, 0.0, -0.2, 0.0]))


def make_model(retrieval: float, rating: float, **kwargs) -> MultiTaskRecommender:
    tf.keras.utils.set_random_seed(0)
    return MultiTaskRecommender(num_users=3, num_items=4, embedding_dim=8,
                                loss_weights=LossWeights(retrieval, rating),
                                rating_anchor=ANCHOR, **kwargs)


def test_tower_embeds_indices_including_the_oov_bucket():
    tower = IdTower(vocabulary_size=5, embedding_dim=7)
    out = tower(tf.constant([[0], [4], [5]], tf.int64))  # [B, 1] input is flattened
    assert out.shape == (3, 7)
    assert tower.embedding.input_dim == 5 + features.NUM_OOV_BUCKETS
    with pytest.raises(tf.errors.InvalidArgumentError):
        tower(tf.constant([6], tf.int64))  # past the OOV bucket


def test_row_l2_penalises_the_looked_up_rows_with_their_weights():
    layer = RowL2Embedding(4, 2, l2_regularization=0.1, row_weights=np.array([1.0, 3.0]),
                           embeddings_initializer="ones")
    layer(tf.constant([0, 1, 1, 3], tf.int64))  # row 3 is past the weights: weighs 1
    # each row's ||row||^2 is 2: 0.1 * 2 * (1 + 3 + 3 + 1)
    np.testing.assert_allclose(float(tf.add_n(layer.losses)), 1.6, rtol=1e-6)
    with pytest.raises(ValueError, match="5 row weights for 4 rows"):
        RowL2Embedding(4, 2, 0.1, row_weights=np.ones(5))


def test_inverse_batch_frequency_gives_the_whole_table_penalty_in_expectation():
    indices = np.array([0, 0, 0, 1, 2, 2])  # id 3 never seen
    weights = inverse_batch_frequency(indices, num_rows=4, batch_size=2)
    np.testing.assert_allclose(weights, [1.0, 3.0, 1.5, 1.0])
    # expected looked-up weight per id per batch: (count * B / N) * w = 1 for seen ids
    np.testing.assert_allclose(np.bincount(indices) * 2 / 6 * weights[:3], 1.0)


def test_rating_head_starts_as_its_anchor_biases():
    """The untrained head predicts mean + user bias + item bias exactly: the
    MLP's last layer and every trained offset start at zero."""
    model = make_model(1.0, 1.0)
    ratings = model.predict_rating(BATCH[features.USER_INDEX], BATCH[features.ITEM_INDEX])
    assert ratings.shape == (4,)
    # users [0, 1, 2, 1], items [3, 0, 1, 2]
    np.testing.assert_allclose(ratings.numpy(), [3.5 + 0.5 - 0.2, 3.5 - 0.5 + 0.2, 3.5, 3.0],
                               rtol=1e-6)
    assert not any("anchor" in v.name for v in model.trainable_variables)  # fixed


def test_rating_head_refuses_an_anchor_longer_than_its_vocabulary():
    with pytest.raises(ValueError, match="anchor user bias has 5 rows, the head 4"):
        MultiTaskRecommender(num_users=3, num_items=4, embedding_dim=8,
                             loss_weights=LossWeights(0.0, 1.0),
                             rating_anchor=RatingBiases(3.5, np.zeros(5), np.zeros(5)))


def test_training_moves_the_rating_head_off_its_anchor_toward_the_ratings():
    model = make_model(0.0, 1.0)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))
    users, items = BATCH[features.USER_INDEX], BATCH[features.ITEM_INDEX]
    before = np.abs(model.predict_rating(users, items).numpy() - BATCH[features.RATING].numpy())
    model.fit(tf.data.Dataset.from_tensors(BATCH).repeat(30), epochs=1, verbose=0)
    after = np.abs(model.predict_rating(users, items).numpy() - BATCH[features.RATING].numpy())
    assert after.mean() < before.mean()


def test_total_loss_is_the_weighted_sum_of_task_losses():
    retrieval_only = float(make_model(1.0, 0.0).compute_loss(BATCH))
    rating_only = float(make_model(0.0, 1.0).compute_loss(BATCH))
    joint = float(make_model(2.0, 3.0).compute_loss(BATCH))
    assert retrieval_only > 0 and rating_only > 0
    assert joint == pytest.approx(2.0 * retrieval_only + 3.0 * rating_only, rel=1e-5)


def test_zero_weight_task_gets_no_gradient():
    model = make_model(1.0, 0.0)
    model.predict_rating(BATCH[features.USER_INDEX], BATCH[features.ITEM_INDEX])  # build the head
    with tf.GradientTape() as tape:
        loss = model.compute_loss(BATCH)
    grads = tape.gradient(loss, model.rating_head.trainable_variables)
    assert all(g is None for g in grads)  # rating head untouched by retrieval-only


def test_logq_correction_changes_the_retrieval_loss():
    plain = float(make_model(1.0, 0.0).compute_loss(BATCH))
    corrected = float(make_model(1.0, 0.0, item_probabilities=np.array([0.7, 0.1, 0.1, 0.1]))
                      .compute_loss(BATCH))
    assert corrected != pytest.approx(plain)


@pytest.mark.parametrize("retrieval,rating", [(0.0, 0.0), (-1.0, 1.0), (1.0, -0.5)])
def test_invalid_loss_weights(retrieval, rating):
    with pytest.raises(ValueError, match="loss weights"):
        LossWeights(retrieval, rating)


@pytest.mark.parametrize("retrieval,rating", [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0)])
def test_training_reduces_the_loss(retrieval, rating):
    """Joint, retrieval-only (the rating head is never called) and rating-only."""
    model = make_model(retrieval, rating)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))
    dataset = tf.data.Dataset.from_tensors(BATCH).repeat(30)
    history = model.fit(dataset, epochs=1, verbose=0)
    before = float(make_model(retrieval, rating).compute_loss(BATCH))
    assert float(model.compute_loss(BATCH)) < before
    assert (history.history["retrieval_loss"][0] > 0) == (retrieval > 0)  # 0: never computed
    assert (history.history["rating_loss"][0] > 0) == (rating > 0)


def test_rows_without_a_rating_are_left_out_of_the_rating_loss():
    with_gap = dict(BATCH, **{features.RATING: tf.constant([4.0, float("nan"), 5.0, 3.0])})
    loss = float(make_model(0.0, 1.0).compute_loss(with_gap))
    assert np.isfinite(loss)
    rated_only = {name: tf.gather(value, [0, 2, 3]) for name, value in BATCH.items()}
    assert loss == pytest.approx(float(make_model(0.0, 1.0).compute_loss(rated_only)), rel=1e-5)


# -- side features ---------------------------------------------------------------

def title_feature() -> FeatureTable:
    """3 items + OOV; tokens 1..4 (0 = padding): item 0 has 2 tokens, item 2 none."""
    table = np.array([[1, 3, 0], [2, 0, 0], [0, 0, 0], [0, 0, 0]], np.int64)
    return FeatureTable(name="title", table=table, num_tokens=4)


def test_tower_with_side_features_adds_the_mean_of_token_embeddings():
    tower = IdTower(vocabulary_size=3, embedding_dim=6, side_features=[title_feature()])
    out = tower(tf.constant([[0], [1], [2], [3]], tf.int64))  # [B, 1] input is flattened
    assert out.shape == (4, 6)
    ids = tower.embedding.embeddings.numpy()
    (pooled,) = tower.side_features
    tokens = pooled.embedding.embeddings.numpy()
    assert tokens.shape == (4 + 1, 6)  # num_tokens + the padding row
    np.testing.assert_allclose(out[0], ids[0] + (tokens[1] + tokens[3]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], ids[1] + tokens[2], rtol=1e-6)
    np.testing.assert_allclose(out[2], ids[2], rtol=1e-6)  # no tokens: the id alone
    np.testing.assert_allclose(out[3], ids[3], rtol=1e-6)  # OOV index: an empty feature row


def test_padding_embedding_never_reaches_the_output():
    tower = IdTower(vocabulary_size=3, embedding_dim=6, side_features=[title_feature()])
    indices = tf.constant([0, 1, 2, 3], tf.int64)
    before = tower(indices).numpy()
    (pooled,) = tower.side_features
    padding_moved = pooled.embedding.embeddings.numpy()
    padding_moved[0] += 100.0
    pooled.embedding.embeddings.assign(padding_moved)
    np.testing.assert_allclose(tower(indices).numpy(), before, rtol=1e-6)


def test_side_feature_table_must_match_the_vocabulary():
    with pytest.raises(ValueError, match="table has 4 rows"):
        IdTower(vocabulary_size=5, embedding_dim=6, side_features=[title_feature()])


def user_profile_feature() -> FeatureTable:
    """3 users + OOV, tokens 1..2; in training the profiles come with the batch."""
    return FeatureTable(name="review_summary", num_tokens=2,
                        table=np.array([[1, 2], [2, 0], [0, 0], [0, 0]], np.int64),
                        training_tokens="review_summary_profile")


def test_tower_pools_given_training_tokens_instead_of_the_table():
    tower = IdTower(vocabulary_size=3, embedding_dim=6, side_features=[user_profile_feature()])
    users = tf.constant([0, 0, 3], tf.int64)
    given = tf.constant([[2, 0], [0, 0], [1, 0]], tf.int64)  # out-of-fold profiles, say
    out = tower(users, feature_tokens={"review_summary": given}).numpy()
    ids = tower.embedding.embeddings.numpy()
    tokens = tower.side_features[0].embedding.embeddings.numpy()
    np.testing.assert_allclose(out, ids[[0, 0, 3]] + tokens[[2, 0, 1]] * [[1], [0], [1]],
                               rtol=1e-6)
    # Without them (serving) the table's row: user 0's whole profile.
    np.testing.assert_allclose(tower(users).numpy()[0], ids[0] + (tokens[1] + tokens[2]) / 2,
                               rtol=1e-6)


def test_model_with_side_features_trains_its_feature_embeddings():
    user_profile = user_profile_feature()
    item_titles = FeatureTable(name="title", num_tokens=4, table=np.array(
        [[1, 0, 0], [2, 0, 0], [3, 4, 0], [1, 2, 0], [0, 0, 0]], np.int64))
    model = make_model(1.0, 1.0, user_features=[user_profile], item_features=[item_titles])
    model.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))
    batch = dict(BATCH, review_summary_profile=tf.constant([[2, 0], [1, 0], [0, 0], [1, 2]],
                                                           tf.int64))
    before = float(model.compute_loss(batch))
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(30), epochs=1, verbose=0)
    assert float(model.compute_loss(batch)) < before
    assert np.isfinite(history.history["loss"]).all()
    names = {v.name for v in model.trainable_variables}
    assert any("title" in name for name in names) and any("review_summary" in name for name in names)
    assert not any("table" in v.name for v in model.trainable_variables)  # tables are fixed


def test_autograph_leaves_tf_keras_unconverted():
    """Importing the model module puts tf_keras on AutoGraph's do-not-convert
    list (pipeline/runtime/tf_autograph.py); our own layers are still converted."""
    from tensorflow.python.autograph.impl import conversion

    assert tf.keras.layers.Dense.__module__.startswith("tf_keras.")
    assert conversion.is_allowlisted(tf.keras.layers.Dense.call)
    assert not conversion.is_allowlisted(IdTower.call)


def test_rating_head_takes_each_users_weighted_share_of_the_correction():
    model = make_model(0.0, 1.0)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))
    model.fit(tf.data.Dataset.from_tensors(BATCH).repeat(30), epochs=1, verbose=0)
    users, items = BATCH[features.USER_INDEX], BATCH[features.ITEM_INDEX]
    anchor = model.rating_head.anchor(users, items).numpy()
    trained = model.predict_rating(users, items).numpy()
    np.testing.assert_allclose(trained - anchor, model.rating_correction(users, items).numpy(),
                               atol=1e-5)
    # users [0, 1, 2, 1], items [3, 0, 1, 2]: user 0 keeps its correction,
    # user 1 halves it, user 2 drops it; item 2 drops it too (the OOV rows last)
    model.rating_head.set_correction_weights(np.array([1.0, 0.5, 0.0, 1.0]),
                                             np.array([1.0, 1.0, 0.0, 1.0, 1.0]))
    weighted = model.predict_rating(users, items).numpy()
    np.testing.assert_allclose(weighted - anchor, (trained - anchor) * [1.0, 0.5, 0.0, 0.0],
                               atol=1e-5)


@pytest.mark.parametrize("user_weights, item_weights, message", [
    (np.ones(3), np.ones(5), r"user correction weights have shape \(3,\), the head \(4,\)"),
    (np.ones(4), np.ones(4), r"item correction weights have shape \(4,\), the head \(5,\)"),
    (np.array([1.0, 1.2, 0.0, 1.0]), np.ones(5), r"user correction weights must lie in \[0, 1\]"),
])
def test_rating_head_refuses_bad_correction_weights(user_weights, item_weights, message):
    head = make_model(0.0, 1.0).rating_head
    with pytest.raises(ValueError, match=message):
        head.set_correction_weights(user_weights, item_weights)
    np.testing.assert_array_equal(head.user_correction_weight.numpy(), 1.0)  # unchanged


def test_rating_head_serves_on_a_replaced_anchor():
    """The Trainer trains on biases without its held-out ratings and exports
    the head on the biases of every training rating."""
    model = make_model(0.0, 1.0)
    users, items = BATCH[features.USER_INDEX], BATCH[features.ITEM_INDEX]
    model.rating_head.set_anchor(RatingBiases(3.0, np.array([0.1, 0.2, 0.3]), np.zeros(4)))
    np.testing.assert_allclose(model.predict_rating(users, items).numpy(),
                               [3.1, 3.2, 3.3, 3.2], rtol=1e-6)
    with pytest.raises(ValueError, match="anchor item bias has 6 rows, the head 5"):
        model.rating_head.set_anchor(RatingBiases(3.0, np.zeros(3), np.zeros(6)))
