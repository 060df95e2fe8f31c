"""Per-item and per-user side-feature tables built from training interactions."""

import numpy as np

from mtrec.trainer_module import features
from mtrec.trainer_module.feature_tables import (PROFILE_FOLDS, TokenLists, item_feature_table,
                                                 most_frequent_table, out_of_fold_profiles)
from mtrec.trainer_module.trainer import _feature_tables


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
    table = most_frequent_table(user_index, tokens, num_rows=2, max_length=3)
    assert table.shape == (2 + features.NUM_OOV_BUCKETS, 3)
    # user 1: token 2 three times, 4 twice, then 3 and 9 once: 3 wins the tie (lower index).
    np.testing.assert_array_equal(table[1], [3, 5, 4])
    np.testing.assert_array_equal(table[0], [0, 0, 0])  # a user whose rows have no text
    np.testing.assert_array_equal(table[2], [0, 0, 0])  # the OOV user


def test_tables_of_no_interactions_are_all_padding():
    empty = token_lists()
    assert not item_feature_table(np.array([], np.int64), empty, 2, 4).any()
    assert not most_frequent_table(np.array([], np.int64), empty, 2, 4).any()


def test_token_lists_select_rows():
    selected = token_lists([4, 5], [], [6, 7, 8]).select(np.array([False, True, True]))
    np.testing.assert_array_equal(selected.values, [6, 7, 8])
    np.testing.assert_array_equal(selected.row_lengths, [0, 3])


def test_out_of_fold_profiles_never_hold_the_rows_own_tokens():
    # One user, one distinct token per row: a row's own token can only reach
    # its training profile through its own row.
    rows = 40
    user_index = np.zeros(rows, np.int64)
    tokens = token_lists(*[[t] for t in range(rows)])
    profiles = out_of_fold_profiles(user_index, tokens, num_users=1, max_length=rows, seed=3)
    assert profiles.shape == (rows, rows)
    for row, profile in enumerate(profiles):
        assert row + 1 not in profile
        # ... and it holds the tokens of about (PROFILE_FOLDS - 1) / PROFILE_FOLDS of the others.
        assert 0.4 * rows < np.count_nonzero(profile) < rows
    full = most_frequent_table(user_index, tokens, 1, rows)[0]
    assert PROFILE_FOLDS > 1 and set(profiles[0][profiles[0] > 0]) < set(full)


def test_out_of_fold_profiles_are_per_user_and_seeded():
    user_index = np.array([0, 1, 0, 1, 0, 1])
    tokens = token_lists([1], [2], [1], [2], [1], [2])
    profiles = out_of_fold_profiles(user_index, tokens, num_users=2, max_length=2, seed=0)
    assert set(profiles[user_index == 0].ravel()) <= {0, 2}  # user 0 only ever wrote token 1
    assert set(profiles[user_index == 1].ravel()) <= {0, 3}
    np.testing.assert_array_equal(
        profiles, out_of_fold_profiles(user_index, tokens, 2, 2, seed=0))


def test_item_time_buckets_table_holds_the_most_frequent_buckets_not_one_rows():
    # Item 0 was rated in time buckets 1, 3, 5, 3, 5, 5 (one bucket per row):
    # its row is its most frequent buckets, not the first (or longest) row's.
    spec = features.ITEM_SIDE_FEATURES[features.TIMESTAMP]
    item_index = np.array([0, 0, 0, 0, 0, 0, 1])
    tokens = token_lists([1], [3], [5], [3], [5], [5], [])  # item 1's row has no timestamp
    [table] = _feature_tables((features.TIMESTAMP,), features.ITEM_SIDE_FEATURES, item_index,
                              num_rows=2, tokens={spec.tokens: tokens},
                              tf_transform_output=None, per_user=False)
    assert spec.per_interaction and spec.max_length == features.TIME_BUCKETS_PER_ROW
    assert table.num_tokens == features.TIME_BUCKETS  # bucket indices, no OOV bucket
    assert table.training_tokens == ""  # items train on their table rows
    np.testing.assert_array_equal(table.table[:, :3], [[6, 4, 2], [0, 0, 0], [0, 0, 0]])
    assert item_feature_table(item_index, tokens, 2, spec.max_length)[0, 0] == 2  # not this
    np.testing.assert_array_equal(table.table[0], most_frequent_table(item_index, tokens, 2,
                                                                       spec.max_length)[0])


def test_user_time_buckets_train_out_of_fold_like_review_summaries():
    spec = features.USER_SIDE_FEATURES[features.TIMESTAMP]
    assert spec is features.ITEM_SIDE_FEATURES[features.TIMESTAMP]  # one transformed feature
    user_index = np.array([0, 0, 1])
    tokens = token_lists([7], [7], [2])
    [table] = _feature_tables((features.TIMESTAMP,), features.USER_SIDE_FEATURES, user_index,
                              num_rows=2, tokens={spec.tokens: tokens},
                              tf_transform_output=None, per_user=True)
    assert table.training_tokens == "timestamp_profile"
    np.testing.assert_array_equal(table.table[:, 0], [8, 3, 0])


def test_token_lists_reorder_moves_each_row_whole():
    from mtrec.trainer_module.feature_tables import TokenLists

    lists = TokenLists(values=np.array([1, 2, 3, 4, 5, 6]), row_lengths=np.array([2, 0, 3, 1]))
    moved = lists.reorder(np.array([2, 0, 3, 1]))
    assert moved.row_lengths.tolist() == [3, 2, 1, 0]
    assert moved.values.tolist() == [3, 4, 5, 1, 2, 6]


def test_item_titles_are_read_past_a_byte_order_mark(tmp_path):
    from mtrec.trainer_module.trainer import _read_titles

    path = tmp_path / "items.csv"
    path.write_text("item_id,title\ni1,Heat (1995)\n", encoding="utf-8-sig")
    assert _read_titles(str(path)) == {"i1": "Heat (1995)"}
