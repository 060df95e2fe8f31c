"""Warm start (trainer_module/warm_start.py): a new model takes the sample model's
rows id by id, across a vocabulary that lost ids, gained ids and changed order."""

import glob

import numpy as np
import pytest
import tensorflow as tf

from mtrec.trainer_module import features
from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender
from mtrec.trainer_module.warm_start import row_mapping, warm_start


def test_row_mapping_pairs_the_ids_in_both_vocabularies():
    new_rows, base_rows = row_mapping(["c", "x", "a"], ["a", "b", "c"])
    assert new_rows.tolist() == [0, 2] and base_rows.tolist() == [2, 0]
    assert [len(rows) for rows in row_mapping(["x"], ["a"])] == [0, 0]


def _sample_model_dir(sample_run) -> str:
    """The sample run's own model: the first Trainer execution, since other e2e tests
    (a degraded model, say) add Trainer runs of other shapes to the same pipeline root."""
    model_dirs = glob.glob(str(sample_run.pipeline_root / "Trainer" / "model" / "*" /
                               "Format-Serving"))
    assert model_dirs, f"no trained model under {sample_run.pipeline_root}"
    return min(model_dirs, key=lambda path: int(path.split("/")[-2]))


@pytest.mark.e2e
def test_a_changed_vocabulary_takes_each_known_ids_rows_and_new_ids_start_fresh(sample_run):
    assert sample_run.exit_code == 0, sample_run.output
    base_dir = _sample_model_dir(sample_run)
    base = tf.saved_model.load(base_dir)
    base_users = [u.decode() for u in base.signatures["user_embedding_table"]()["ids"].numpy()]
    base_items = [i.decode() for i in base.signatures["item_embedding_table"]()["ids"].numpy()]
    # Ten users gone, the rest reversed, two new ones; the items as they were plus one.
    users = ["new-user-1"] + base_users[10:][::-1] + ["new-user-2"]
    items = base_items + ["new-item"]
    model = MultiTaskRecommender(num_users=len(users), num_items=len(items), embedding_dim=64,
                                 loss_weights=LossWeights(1.0, 0.1), rating_hidden_units=(64, 32))
    model.predict_rating(tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
    fresh_users = model.user_tower.embedding.embeddings.numpy().copy()

    carried = warm_start(model, base_dir, users, items)

    assert (carried.users_carried, carried.users_new) == (len(base_users) - 10, 2)
    assert (carried.items_carried, carried.items_new) == (len(base_items), 1)
    assert carried.carried == ["embeddings", "biases", "mlp", "global_bias"]
    rows = model.user_tower.embedding.embeddings.numpy()
    base_rows = base.model.user_tower.embedding.embeddings.numpy()
    for user in (base_users[10], base_users[-1]):
        np.testing.assert_array_equal(rows[users.index(user)], base_rows[base_users.index(user)])
    for new in (0, len(users) - 1, len(users)):  # the new ids and the OOV row start fresh
        np.testing.assert_array_equal(rows[new], fresh_users[new])
    assert rows.shape[0] == len(users) + features.NUM_OOV_BUCKETS
    item_bias = model.rating_head.item_bias.embeddings.numpy()
    np.testing.assert_array_equal(item_bias[:len(base_items)],
                                  base.model.rating_head.item_bias.embeddings.numpy()[:len(base_items)])
    np.testing.assert_array_equal(model.rating_head.mlp.variables[0].numpy(),
                                  base.model.rating_head.mlp.variables[0].numpy())


@pytest.mark.e2e
def test_another_embedding_size_starts_the_rows_fresh(sample_run):
    assert sample_run.exit_code == 0, sample_run.output
    base_dir = _sample_model_dir(sample_run)
    model = MultiTaskRecommender(num_users=3, num_items=3, embedding_dim=16,
                                 loss_weights=LossWeights(1.0, 0.1), rating_hidden_units=(64, 32))
    carried = warm_start(model, base_dir, ["a", "b", "c"], ["x", "y", "z"])
    assert carried.carried == ["global_bias"]  # no id in common; the MLP's width differs
    assert carried.users_carried == 0 and carried.users_new == 3
