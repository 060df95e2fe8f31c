"""Training batches: each epoch, a fresh seeded permutation of the interactions.

The Trainer holds the training split as one numpy array per column, in
canonical (user, item) order (trainer.py): tens of bytes per interaction. An
epoch draws a permutation from a generator seeded by (seed, epoch) and yields
the batches gathered from the columns in that order, so the same data and
seed give the same batches on every run and runner.

Two alternatives were measured or ruled out (docs/benchmarks.md):

- `Dataset.from_tensor_slices(columns).shuffle(n)` holds every interaction in
  the shuffle buffer as separate tensors, about 0.5 KB each: 16 GiB at 10M
  ratings, against tens of bytes here.
- Streaming the TFRecords through a bounded shuffle buffer is a partial
  shuffle whose batches depend on how a runner sharded the files, so Flink
  and the in-memory runner would train different models from the same data.
"""

from __future__ import annotations

import math
from typing import Dict, Iterator, Mapping

import numpy as np
import tensorflow as tf


def _signature(columns: Mapping[str, np.ndarray]) -> Dict[str, tf.TensorSpec]:
    return {name: tf.TensorSpec((None,) + values.shape[1:], tf.as_dtype(values.dtype))
            for name, values in columns.items()}


def epoch_order(num_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch `epoch` (0-based) visits the rows."""
    return np.random.default_rng([seed, epoch]).permutation(num_rows)


def shuffled_batches(columns: Mapping[str, np.ndarray], batch_size: int, seed: int
                     ) -> tf.data.Dataset:
    """A dataset of dict batches; each iteration over it (a Keras epoch) is the next
    epoch's permutation. The last batch of an epoch may be smaller."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"the training columns differ in length: "
                         f"{ {name: len(values) for name, values in columns.items()} }")
    (num_rows,) = lengths
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    epochs_started = [0]

    def one_epoch() -> Iterator[Dict[str, np.ndarray]]:
        order = epoch_order(num_rows, seed, epochs_started[0])
        epochs_started[0] += 1
        for start in range(0, num_rows, batch_size):
            rows = order[start:start + batch_size]
            yield {name: values[rows] for name, values in columns.items()}

    dataset = tf.data.Dataset.from_generator(one_epoch, output_signature=_signature(columns))
    steps = math.ceil(num_rows / batch_size)
    return (dataset.apply(tf.data.experimental.assert_cardinality(steps))
            .prefetch(tf.data.AUTOTUNE))
