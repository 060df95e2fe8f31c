"""The Trainer's batches: every epoch visits each interaction once, in a seeded order."""

import numpy as np
import pytest

from mtrec.trainer_module.batches import shuffled_batches


def columns(num_rows):
    return {"user": np.arange(num_rows, dtype=np.int64),
            "rating": np.arange(num_rows, dtype=np.float32) / 2,
            "profile": np.arange(num_rows * 3, dtype=np.int64).reshape(num_rows, 3)}


def epochs(dataset, count):
    return [[{name: tensor.numpy() for name, tensor in batch.items()} for batch in dataset]
            for _ in range(count)]


def test_each_epoch_is_a_new_permutation_of_every_row_with_rows_kept_together():
    data = columns(10)
    first, second = epochs(shuffled_batches(data, batch_size=4, seed=3), 2)
    assert [len(batch["user"]) for batch in first] == [4, 4, 2]
    for epoch in (first, second):
        users = np.concatenate([batch["user"] for batch in epoch])
        assert sorted(users.tolist()) == list(range(10))
        for batch in epoch:  # a row's columns travel together
            np.testing.assert_array_equal(batch["rating"], batch["user"] / 2)
            np.testing.assert_array_equal(batch["profile"][:, 0], batch["user"] * 3)
    assert not np.array_equal(np.concatenate([b["user"] for b in first]),
                              np.concatenate([b["user"] for b in second]))


def test_the_same_seed_gives_the_same_batches_and_another_seed_others():
    data = columns(50)
    order = lambda seed: [np.concatenate([b["user"] for b in epoch])  # noqa: E731
                          for epoch in epochs(shuffled_batches(data, 8, seed), 2)]
    assert all(np.array_equal(a, b) for a, b in zip(order(1), order(1)))
    assert not np.array_equal(order(1)[0], order(2)[0])


def test_the_dataset_knows_its_steps_per_epoch():
    assert int(shuffled_batches(columns(10), 4, 0).cardinality()) == 3


def test_columns_of_different_lengths_and_a_zero_batch_size_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        shuffled_batches({"user": np.arange(3), "item": np.arange(4)}, 2, 0)
    with pytest.raises(ValueError, match="batch_size"):
        shuffled_batches(columns(3), 0, 0)
