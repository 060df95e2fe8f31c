"""Per-item and per-user side-feature tables built from training interactions."""

import numpy as np

from mtrec.trainer_module import features
from mtrec.trainer_module.feature_tables import (TokenLists, item_feature_table,
                                                 user_feature_table)


def token_lists(*rows):
    return TokenLists(values=np.array([t for row in rows for t in row], np.int64),
                      row_lengths=np.array([len(row) for row in rows], np.int64))


def test_token_lists_row_ids_and_positions():
    tokens = token_lists([4, 5], [], [6, 7, 8])
    np.testing.assert_array_equal(tokens.row_ids(), [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(tokens.positions(), [0, 1, 0, 1, 2])


def test_item_table_shifts_tokens_pads_and_keeps_the_oov_row_empty():
    # Items 0 and 2 appear twice (denormalised rows); item 1 never: an empty row.
    item_index = np.array([2, 0, 2, 0])
    tokens = token_lists([3, 0], [5], [3, 0], [5])
    table = item_feature_table(item_index, tokens, num_items=3, max_length=3)
    assert table.shape == (3 + features.NUM_OOV_BUCKETS, 3) and table.dtype == np.int64
    np.testing.assert_array_equal(table, [[6, 0, 0],    # token 5 -> 6, then padding
                                          [0, 0, 0],    # no training row
                                          [4, 1, 0],    # token 0 -> 1, distinct from padding
                                          [0, 0, 0]])   # the OOV item


def test_item_table_takes_the_longest_row_and_truncates():
    item_index = np.array([0, 0, 0])
    tokens = token_lists([], [7, 8, 9, 10], [1])  # e.g. a row where the title was missing
    table = item_feature_table(item_index, tokens, num_items=1, max_length=3)
    np.testing.assert_array_equal(table[0], [8, 9, 10])


def test_user_table_aggregates_training_rows_most_frequent_first_capped():
    user_index = np.array([1, 1, 1, 0])
    tokens = token_lists([4, 2], [2, 9], [2, 4, 3], [])
    table = user_feature_table(user_index, tokens, num_users=2, max_length=3)
    assert table.shape == (2 + features.NUM_OOV_BUCKETS, 3)
    # user 1: token 2 three times, 4 twice, then 3 and 9 once: 3 wins the tie (lower index).
    np.testing.assert_array_equal(table[1], [3, 5, 4])
    np.testing.assert_array_equal(table[0], [0, 0, 0])  # a user whose rows have no text
    np.testing.assert_array_equal(table[2], [0, 0, 0])  # the OOV user


def test_tables_of_no_interactions_are_all_padding():
    empty = token_lists()
    assert not item_feature_table(np.array([], np.int64), empty, 2, 4).any()
    assert not user_feature_table(np.array([], np.int64), empty, 2, 4).any()
