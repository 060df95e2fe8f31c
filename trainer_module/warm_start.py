"""Warm start: a new model begins where the last blessed model ended, id by id.

The base model is the SavedModel TFX hands the Trainer as `base_model` (the
latest blessed model, pipeline/pipeline.py). Its vocabularies come from its
own `user_embedding_table` / `item_embedding_table` signatures (ids in index
order), its variables from the restored module. Copied into `model`:

- the id embedding rows and the rating biases of every user and item in both
  vocabularies, matched by id, so a grown, shrunk or reordered vocabulary
  maps right; ids new to this run keep their fresh initialisation, ids gone
  from it are dropped, and the out-of-vocabulary rows start fresh;
- the rating head's MLP and global bias, when their shapes are unchanged
  (a different embedding_dim starts the embeddings fresh too, a different
  rating_hidden_units the MLP).

Side-feature token embeddings start fresh (their token vocabularies are
rebuilt every run), and so do the optimizer's accumulators and the rating
anchor and correction weights, which training fits again.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Sequence

import numpy as np
import scann  # noqa: F401  (registers the ScaNN ops the base model's index uses)
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class WarmStart:
    """What was carried over from the base model."""

    base_model: str
    users_carried: int
    users_new: int  # in this vocabulary, not in the base model's
    items_carried: int
    items_new: int
    carried: List[str]  # the parts copied (embeddings, biases, mlp, global_bias)

    def as_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


def _vocabulary(base, signature: str) -> List[str]:
    return [value.decode() for value in base.signatures[signature]()["ids"].numpy()]


def row_mapping(new: Sequence[str], old: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows in `new`, rows in `old`) of the ids in both vocabularies."""
    old_rows = {value: row for row, value in enumerate(old)}
    pairs = [(row, old_rows[value]) for row, value in enumerate(new) if value in old_rows]
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new_rows, base_rows = zip(*pairs)
    return np.asarray(new_rows, np.int64), np.asarray(base_rows, np.int64)


def _copy_rows(target: tf.Variable, source: tf.Variable, new_rows: np.ndarray,
               base_rows: np.ndarray) -> bool:
    """Copies rows `base_rows` of `source` to rows `new_rows` of `target`; False (and
    nothing copied) when their rows differ in width."""
    if target.shape[1:] != source.shape[1:]:
        return False
    values = target.numpy()
    values[new_rows] = source.numpy()[base_rows]
    target.assign(values)
    return True


def warm_start(model, base_model_dir: str, user_vocabulary: Sequence[str],
               item_vocabulary: Sequence[str]) -> WarmStart:
    """Copies the base model's rows and layers into `model` (a MultiTaskRecommender,
    built here if it is not yet); returns what was carried."""
    probe = tf.zeros([1], tf.int64)
    model.predict_rating(probe, probe)  # creates every variable the copy writes
    base = tf.saved_model.load(base_model_dir)
    base_users = _vocabulary(base, "user_embedding_table")
    base_items = _vocabulary(base, "item_embedding_table")
    user_rows = row_mapping(user_vocabulary, base_users)
    item_rows = row_mapping(item_vocabulary, base_items)
    head, base_head = model.rating_head, base.model.rating_head
    carried = []
    for name, pairs in (
            ("embeddings", [(model.user_tower.embedding.embeddings,
                             base.model.user_tower.embedding.embeddings, user_rows),
                            (model.item_tower.embedding.embeddings,
                             base.model.item_tower.embedding.embeddings, item_rows)]),
            ("biases", [(head.user_bias.embeddings, base_head.user_bias.embeddings, user_rows),
                        (head.item_bias.embeddings, base_head.item_bias.embeddings, item_rows)])):
        shared = all(len(rows[0]) for _, _, rows in pairs)
        if shared and all([_copy_rows(target, source, *rows) for target, source, rows in pairs]):
            carried.append(name)
    layers = [("mlp", head.mlp.variables, base_head.mlp.variables),
              ("global_bias", [head.global_bias], [base_head.global_bias])]
    for name, targets, sources in layers:
        if [v.shape for v in targets] == [v.shape for v in sources]:
            for target, source in zip(targets, sources):
                target.assign(source)
            carried.append(name)
    return WarmStart(base_model=base_model_dir,
                     users_carried=len(user_rows[0]),
                     users_new=len(user_vocabulary) - len(user_rows[0]),
                     items_carried=len(item_rows[0]),
                     items_new=len(item_vocabulary) - len(item_rows[0]),
                     carried=carried)
