"""The Trainer stage: `run_fn` trains the multi-task model and exports it.

Settings arrive in the Trainer's `custom_config` as a `TrainingSettings`
(settings.py); the pipeline config is the single place they are set.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from typing import Dict, List, Mapping, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from mtrec.trainer_module import export, features, rating_blend, warm_start
from mtrec.trainer_module.baselines import RatingBiases, fit_biases
from mtrec.trainer_module.batches import shuffled_batches
from mtrec.trainer_module.feature_tables import (FeatureTable, TokenLists, item_feature_table,
                                                 most_frequent_table, out_of_fold_profiles)
from mtrec.trainer_module.model import LossWeights, MultiTaskRecommender
from mtrec.trainer_module.settings import TrainingSettings
from mtrec.trainer_module.towers import inverse_batch_frequency


INDEX_CHECK_USERS = 500  # users sampled to measure the index's recall before export
PREDICT_BATCH = 65536


def _hold_out_ratings(train: Mapping[str, np.ndarray], rating_weight: float, share: float,
                      seed: int) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """(held_out, columns): the training rows whose ratings the rating loss
    does not see (rating_blend.holdout_rows; none without a rating task), and
    the columns to train on, `train` with those ratings NaN. Retrieval still
    trains on every interaction."""
    held_out = (rating_blend.holdout_rows(train[features.RATING], share, seed)
                if rating_weight > 0
                else np.zeros(len(train[features.USER_INDEX]), bool))
    columns = dict(train)
    if held_out.any():
        columns[features.RATING] = train[features.RATING].copy()
        columns[features.RATING][held_out] = np.nan
    return held_out, columns


def _fit_correction_weights(model: MultiTaskRecommender, train: Mapping[str, np.ndarray],
                            held_out: np.ndarray, rating_biases: RatingBiases,
                            trained_ratings_per_user: np.ndarray
                            ) -> rating_blend.CorrectionWeights:
    """Fits how much of the trained correction each user's predictions take
    (rating_blend.py) on the `held_out` training rows, which the rating loss
    did not see; `trained_ratings_per_user` counts the rows it did see."""
    users, items = train[features.USER_INDEX][held_out], train[features.ITEM_INDEX][held_out]
    correction = np.concatenate([
        model.rating_correction(tf.constant(users[start:start + PREDICT_BATCH]),
                                tf.constant(items[start:start + PREDICT_BATCH])).numpy()
        for start in range(0, len(users), PREDICT_BATCH)])
    residual = train[features.RATING][held_out] - rating_biases.predict(users, items)
    return rating_blend.fit_correction_weights(correction, residual,
                                               trained_ratings_per_user[users])


def _rated_rows_per_id(train: Mapping[str, np.ndarray], column: str, num_ids: int
                       ) -> np.ndarray:
    """int [num_ids]: each user's (column USER_INDEX) or item's rated training rows."""
    rated = ~np.isnan(train[features.RATING])
    return np.bincount(train[column][rated], minlength=num_ids)[:num_ids]


def _read_interactions(file_patterns: List[str], tf_transform_output: tft.TFTransformOutput
                       ) -> Tuple[Dict[str, np.ndarray], Dict[str, TokenLists]]:
    """Reads the transformed training split into memory.

    Returns one array per single-valued feature (user, item, rating: tens of
    bytes per interaction; holding them lets every epoch reshuffle the whole
    split without re-parsing, batches.py) and the token lists of each side
    feature (sparse in the transformed data), which only feed the tables.

    The files are read one after another and parsed in batches, with plain
    tf.data: the Trainer's TFXIO dataset reads them through a parallel,
    order-keeping interleave that cost about 20 µs per record here, against
    1 µs this way (docs/benchmarks.md). The order read does not matter: the
    result is sorted (`_in_canonical_order`).
    """
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no transformed training examples match {file_patterns}")
    compression = "GZIP" if all(path.endswith(".gz") for path in files) else ""
    spec = tf_transform_output.transformed_feature_spec()
    dataset = (tf.data.TFRecordDataset(files, compression_type=compression)
               .batch(65536)
               .map(lambda records: tf.io.parse_example(records, spec),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(2))
    columns: Dict[str, List[np.ndarray]] = {}
    token_parts: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
    for batch in dataset:
        for name, tensor in batch.items():
            if isinstance(tensor, tf.SparseTensor):
                ragged = tf.RaggedTensor.from_sparse(tensor)
                token_parts.setdefault(name, []).append(
                    (ragged.values.numpy(), ragged.row_lengths().numpy()))
            else:
                columns.setdefault(name, []).append(np.reshape(tensor.numpy(), [-1]))
    tokens = {name: TokenLists(values=np.concatenate([v for v, _ in parts]).astype(np.int64),
                               row_lengths=np.concatenate([n for _, n in parts]).astype(np.int64))
              for name, parts in token_parts.items()}
    return _in_canonical_order({name: np.concatenate(parts) for name, parts in columns.items()},
                               tokens)


def _in_canonical_order(columns: Dict[str, np.ndarray], tokens: Dict[str, TokenLists]
                        ) -> Tuple[Dict[str, np.ndarray], Dict[str, TokenLists]]:
    """The interactions sorted by (user, item) index, so that training does not
    depend on the order in which a runner wrote them (one shard or many): the
    same data gives the same seeded batches on every runner. The pairs are
    unique, since ExampleGen drops duplicates."""
    order = np.lexsort((columns[features.ITEM_INDEX], columns[features.USER_INDEX]))
    return ({name: values[order] for name, values in columns.items()},
            {name: lists.reorder(order) for name, lists in tokens.items()})


def _feature_tables(names: Tuple[str, ...], specs: Mapping[str, features.SideFeature],
                    index: np.ndarray, num_rows: int, tokens: Mapping[str, TokenLists],
                    tf_transform_output: tft.TFTransformOutput, per_user: bool
                    ) -> List[FeatureTable]:
    """The side-feature tables of one tower, built from the training interactions.

    A user feature trains with out-of-fold profiles: the batch feature
    `<name>_profile`, added to the training data by `run_fn`. An item feature
    takes each item's longest token list, or, when it differs between an
    item's rows (time buckets), its most frequent tokens as a user's would.
    """
    tables = []
    for name in names:
        spec = specs[name]
        if spec.tokens not in tokens:
            raise ValueError(f"side feature {name!r} is enabled but the transformed data has no "
                             f"{spec.tokens!r}: was Transform run with the same settings?")
        build = (most_frequent_table if per_user or spec.per_interaction
                 else item_feature_table)
        table = build(index, tokens[spec.tokens], num_rows, spec.max_length)
        # Bucket indices are [0, num_buckets); vocabulary indices have an OOV bucket.
        num_tokens = (spec.num_buckets if spec.num_buckets else
                      tf_transform_output.vocabulary_size_by_name(spec.vocabulary)
                      + features.NUM_OOV_BUCKETS)
        tables.append(FeatureTable(name=name, table=table, num_tokens=num_tokens,
                                   training_tokens=f"{name}_profile" if per_user else ""))
        logging.info("side feature %s: %d tokens, %.1f per row on average", name, num_tokens,
                     float(np.mean(np.sum(table > 0, axis=1))))
    return tables


def _seen_items(user_index: np.ndarray, item_index: np.ndarray, num_users: int) -> tf.RaggedTensor:
    """Ragged [num_users + OOV, None]: the item indices each user rated in training."""
    order = np.lexsort((item_index, user_index))
    rows = features.NUM_OOV_BUCKETS + num_users
    lengths = np.bincount(user_index, minlength=rows)[:rows]
    return tf.RaggedTensor.from_row_lengths(item_index[order].astype(np.int64),
                                            lengths.astype(np.int64))


def _read_titles(items_file: str) -> Dict[str, str]:
    """item_id -> title from the items CSV (columns item_id, title), if configured;
    a UTF-8 byte-order mark before the header is dropped."""
    if not items_file:
        return {}
    with tf.io.gfile.GFile(items_file) as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames:
            reader.fieldnames = [reader.fieldnames[0].removeprefix("\ufeff"),
                                 *reader.fieldnames[1:]]
        missing = {features.ITEM_ID, "title"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{items_file}: missing column(s) {sorted(missing)}; "
                             f"expected item_id,title")
        return {row[features.ITEM_ID]: row["title"] for row in reader}


class _PhaseClock:
    """Wall seconds of each phase of `run_fn`, in the order they ran: logged as
    each ends and kept in training_history.json, so a slow Trainer says where
    its time went."""

    def __init__(self):
        self.seconds: Dict[str, float] = {}
        self._start = time.monotonic()

    def done(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self._start, 1)
        self._start = now
        logging.info("Trainer: %s took %.1f s", phase, self.seconds[phase])


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    clock = _PhaseClock()
    settings = TrainingSettings.from_custom_config(fn_args.custom_config)
    tf.keras.utils.set_random_seed(settings.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    user_vocabulary = [v.decode() for v in tf_transform_output.vocabulary_by_name(features.USER_VOCABULARY)]
    item_vocabulary = [v.decode() for v in tf_transform_output.vocabulary_by_name(features.ITEM_VOCABULARY)]

    train, train_tokens = _read_interactions(fn_args.train_files, tf_transform_output)
    clock.done("the vocabularies and the training split")
    has_ratings = features.RATING in train and not np.all(np.isnan(train[features.RATING]))
    if settings.rating_weight > 0 and not has_ratings:
        raise ValueError("the rating task has weight "
                         f"{settings.rating_weight} but the training split holds no rating; "
                         "set data.has_ratings = false for implicit data")
    loss_weights = LossWeights(settings.retrieval_weight, settings.rating_weight)
    held_out, training_columns = _hold_out_ratings(train, loss_weights.rating,
                                                   settings.rating_holdout_share, settings.seed)
    # The naive baseline the Evaluator scores, and the exported head's anchor.
    rating_biases = (fit_biases(train[features.USER_INDEX], train[features.ITEM_INDEX],
                                train[features.RATING], len(user_vocabulary),
                                len(item_vocabulary)) if has_ratings else None)
    # The anchor while training must not have seen the held-out ratings either:
    # one fitted on them made every trained correction look harmful there.
    training_anchor = (fit_biases(train[features.USER_INDEX], train[features.ITEM_INDEX],
                                  training_columns[features.RATING], len(user_vocabulary),
                                  len(item_vocabulary)) if held_out.any() else rating_biases)
    item_counts = np.bincount(train[features.ITEM_INDEX],
                              minlength=len(item_vocabulary))[:len(item_vocabulary)]
    item_probabilities = item_counts / item_counts.sum() if settings.sampling_correction else None
    logging.info("training on %d interactions, %d users, %d items, loss weights %s",
                 len(train[features.USER_INDEX]), len(user_vocabulary), len(item_vocabulary),
                 loss_weights)

    item_features = _feature_tables(
        settings.item_features, features.ITEM_SIDE_FEATURES, train[features.ITEM_INDEX],
        len(item_vocabulary), train_tokens, tf_transform_output, per_user=False)
    user_features = _feature_tables(
        settings.user_features, features.USER_SIDE_FEATURES, train[features.USER_INDEX],
        len(user_vocabulary), train_tokens, tf_transform_output, per_user=True)

    model = MultiTaskRecommender(
        num_users=len(user_vocabulary), num_items=len(item_vocabulary),
        embedding_dim=settings.embedding_dim, loss_weights=loss_weights,
        rating_hidden_units=settings.rating_hidden_units, rating_anchor=training_anchor,
        l2_regularization=settings.l2_regularization, temperature=settings.temperature,
        item_probabilities=item_probabilities, user_features=user_features,
        item_features=item_features,
        # Every id's bias gets the same expected L2 per step, however often the
        # id occurs (towers.py), which improves RMSE; on the towers' embeddings
        # the same weighting cost retrieval (measured: docs/benchmarks.md).
        user_bias_weights=inverse_batch_frequency(
            train[features.USER_INDEX], len(user_vocabulary), settings.batch_size),
        item_bias_weights=inverse_batch_frequency(
            train[features.ITEM_INDEX], len(item_vocabulary), settings.batch_size))
    model.compile(optimizer=tf.keras.optimizers.Adagrad(settings.learning_rate))

    # Each interaction trains with a user profile built from other interactions only.
    for feature in user_features:
        spec = features.USER_SIDE_FEATURES[feature.name]
        training_columns[feature.training_tokens] = out_of_fold_profiles(
            train[features.USER_INDEX], train_tokens[spec.tokens], len(user_vocabulary),
            spec.max_length, settings.seed)
    dataset = shuffled_batches(training_columns, settings.batch_size, settings.seed)
    clock.done("biases, tables and the model")
    warm = None
    if fn_args.base_model:
        warm = warm_start.warm_start(model, fn_args.base_model, user_vocabulary, item_vocabulary)
        logging.info("warm start from %s: %s", fn_args.base_model, warm.as_dict())
        clock.done("the warm start")
    epochs = settings.epochs_for(len(train[features.USER_INDEX]), warm_start=warm is not None)
    if epochs != (settings.warm_start_epochs if warm else settings.epochs):
        logging.info("training %d epochs instead of %d: the budget is %d examples seen",
                     epochs, settings.epochs, settings.max_examples_seen)
    history = model.fit(dataset, epochs=epochs, verbose=2,
                        callbacks=[tf.keras.callbacks.TensorBoard(fn_args.model_run_dir)])
    clock.done("fit")
    correction_weights = None
    if held_out.any():
        ratings_per_user = _rated_rows_per_id(train, features.USER_INDEX, len(user_vocabulary))
        # A held-out row's user is binned by the ratings that trained its
        # correction, as a served user is: without the held-out ones, which
        # made users with one rating look like cold users there.
        correction_weights = _fit_correction_weights(
            model, train, held_out, training_anchor,
            _rated_rows_per_id(training_columns, features.USER_INDEX, len(user_vocabulary)))
        model.rating_head.set_correction_weights(
            correction_weights.per_user(ratings_per_user,
                                        len(user_vocabulary) + features.NUM_OOV_BUCKETS),
            rating_blend.item_weights(
                _rated_rows_per_id(train, features.ITEM_INDEX, len(item_vocabulary)),
                len(item_vocabulary) + features.NUM_OOV_BUCKETS))
        # Served on the biases of every training rating, so that a zero
        # weight gives exactly the bias baseline the gate compares with.
        model.rating_head.set_anchor(rating_biases)
        logging.info("rating correction weights, fitted on %d held-out training ratings: %s",
                     int(held_out.sum()), correction_weights.as_dict())

    clock.done("rating correction weights")
    module = export.RecommenderModule(
        model=model, user_vocabulary=user_vocabulary, item_vocabulary=item_vocabulary,
        seen_items=_seen_items(train[features.USER_INDEX], train[features.ITEM_INDEX],
                               len(user_vocabulary)),
        item_titles=_read_titles(settings.items_file), item_counts=item_counts,
        max_k=settings.max_k, top_k_max_users=settings.top_k_max_users,
        raw_feature_spec=tf_transform_output.raw_feature_spec(),
        rating_biases=rating_biases)
    clock.done("the export module and its index")
    sample = np.random.default_rng(settings.seed).permutation(user_vocabulary)[:INDEX_CHECK_USERS]
    index_quality = export.measure_index_quality(module, list(sample))
    logging.info("ScaNN recall@%d against exact search on %d users: %.4f; p50 %.2f ms "
                 "(exact %.2f ms); %s", index_quality["k"], index_quality["users"],
                 index_quality["recall_at_k"], index_quality["scann_p50_ms"],
                 index_quality["exact_p50_ms"], index_quality["scann"])
    clock.done("the index's recall check")
    export.save(module, fn_args.serving_model_dir, index_quality)
    clock.done("save")
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_history.json"), "w") as f:
        json.dump({"epochs": epochs, "history": history.history, "phase_seconds": clock.seconds,
                   "warm_start": warm.as_dict() if warm else None,
                   "rating_correction_weights": (correction_weights.as_dict()
                                                 if correction_weights else None)}, f)
