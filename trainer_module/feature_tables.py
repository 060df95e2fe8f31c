"""Per-item and per-user side-feature tables, built from the transformed training data.

Transform gives every interaction row the token indices of its side features
(denormalised: an item's title on each of its ratings). The towers need them
per item and per user instead, so the Trainer packs them into dense tables
that the towers look up by vocabulary index:

  table [rows, max_length] int64, row r = (token index + 1) of entity r, then
  0-padding; rows = vocabulary size + the OOV bucket, whose row is all padding.

Tokens are shifted by one so that 0 can mean "no token"; the towers mask it.
  item table:  the tokens of the item's longest token list among its rows
               (its title, its genres: the same on each of its rows),
               truncated to max_length; for a feature that differs between
               an item's rows (its time buckets), the most frequent tokens,
               as for users
  user table:  the user's max_length most frequent tokens over all of the
               user's training rows (ties: the token more frequent in the
               whole data first). Only training rows are read, so a held-out
               interaction's own text never reaches the profile.

Training must not read a profile that holds the text of the interaction
being predicted either, nor one that leaves exactly that text out (the gap
gives it away just as well: leave-one-out target leakage). So each training
interaction is trained with an out-of-fold profile: the training rows are
split into PROFILE_FOLDS random folds, and a row of fold f gets the profile
built from the other folds' rows only (`out_of_fold_profiles`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mtrec.trainer_module import features

PADDING = 0
PROFILE_FOLDS = 4


@dataclasses.dataclass(frozen=True)
class TokenLists:
    """One variable-length list of token indices per interaction row (CSR form)."""

    values: np.ndarray  # int64 [total tokens]
    row_lengths: np.ndarray  # int64 [rows]

    def row_ids(self) -> np.ndarray:
        """int64 [total tokens]: the row each value belongs to."""
        return np.repeat(np.arange(len(self.row_lengths)), self.row_lengths)

    def select(self, rows: np.ndarray) -> "TokenLists":
        """The lists of the rows where the bool mask `rows` [rows] is True."""
        return TokenLists(values=self.values[rows[self.row_ids()]],
                          row_lengths=self.row_lengths[rows])

    def reorder(self, order: np.ndarray) -> "TokenLists":
        """The lists with row i taken from row `order[i]` (a permutation of the rows)."""
        starts = np.cumsum(self.row_lengths) - self.row_lengths
        lengths = self.row_lengths[order]
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return TokenLists(values=self.values[np.repeat(starts[order], lengths) + within],
                          row_lengths=lengths)

    def positions(self) -> np.ndarray:
        """int64 [total tokens]: each value's position within its row."""
        starts = np.cumsum(self.row_lengths) - self.row_lengths
        return np.arange(len(self.values)) - np.repeat(starts, self.row_lengths)


@dataclasses.dataclass(frozen=True)
class FeatureTable:
    """A side feature's lookup table for one tower.

    `table` int64 [vocabulary_size + OOV, max_length] as described above;
    `num_tokens` the token ids it can hold besides padding (the feature's
    vocabulary size + its OOV bucket), so its embedding has num_tokens + 1 rows.
    `training_tokens` names the training batch feature, if any, holding the
    tokens each interaction trains with instead of its table row (a user
    feature's out-of-fold profile).
    """

    name: str
    table: np.ndarray
    num_tokens: int
    training_tokens: str = ""


def _empty_table(num_rows: int, max_length: int) -> np.ndarray:
    return np.full((num_rows + features.NUM_OOV_BUCKETS, max_length), PADDING, np.int64)


def item_feature_table(item_index: np.ndarray, tokens: TokenLists, num_items: int,
                       max_length: int) -> np.ndarray:
    """[num_items + OOV, max_length]: each item's tokens from its longest row.

    `item_index` [rows] and `tokens` (rows lists) are the training interactions.
    """
    rows = len(item_index)
    order = np.lexsort((np.arange(rows), -tokens.row_lengths, item_index))
    first = order[np.r_[True, item_index[order][1:] != item_index[order][:-1]]] if rows else order
    chosen = np.zeros(rows, bool)
    chosen[first] = True
    row_ids, positions = tokens.row_ids(), tokens.positions()
    keep = chosen[row_ids] & (positions < max_length)
    table = _empty_table(num_items, max_length)
    table[item_index[row_ids[keep]], positions[keep]] = tokens.values[keep] + 1
    return table


def most_frequent_table(index: np.ndarray, tokens: TokenLists, num_rows: int,
                        max_length: int) -> np.ndarray:
    """[num_rows + OOV, max_length]: each index's most frequent tokens over its rows.

    `index` [rows] (user or item indices) and `tokens` (rows lists) are the
    training interactions: the user table of every user feature, and the item
    table of a feature that differs between an item's rows (time buckets).
    """
    entities = index[tokens.row_ids()]
    pairs, counts = np.unique(np.stack([entities, tokens.values], axis=1), axis=0,
                              return_counts=True)
    table = _empty_table(num_rows, max_length)
    if not len(pairs):
        return table
    # Per index: most frequent first; ties to the lower (globally more frequent) token.
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    pairs = pairs[order]
    starts = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(pairs)), 0))
    rank = np.arange(len(pairs)) - group_start
    keep = rank < max_length
    table[pairs[keep, 0], rank[keep]] = pairs[keep, 1] + 1
    return table


def out_of_fold_profiles(user_index: np.ndarray, tokens: TokenLists, num_users: int,
                         max_length: int, seed: int) -> np.ndarray:
    """int64 [rows, max_length]: for each training interaction, its user's
    profile (as in `most_frequent_table`) built only from the rows of the other
    PROFILE_FOLDS - 1 folds; folds are drawn at random (seeded) per row."""
    folds = np.random.default_rng(seed).integers(PROFILE_FOLDS, size=len(user_index))
    profiles = np.full((len(user_index), max_length), PADDING, np.int64)
    for fold in range(PROFILE_FOLDS):
        others = folds != fold
        table = most_frequent_table(user_index[others], tokens.select(others), num_users,
                                   max_length)
        profiles[~others] = table[user_index[~others]]
    return profiles
