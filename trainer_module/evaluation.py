"""Evaluator-side code: the TFMA metrics that gate the model, and its loader.

The Evaluator imports this module (its `module_path`), which imports `scann`
first so that TFMA can load a SavedModel holding ScaNN ops.

Metrics (defined in docs/pipeline.md#metrics), computed by TFMA from the `evaluate` signature:

  top_K_accuracy                 mean over held-out interactions of 1[rank < K],
                                 rank = corpus items scored above the true item
                                 (the TFRS FactorizedTopK definition)
  top_K_accuracy_seen_excluded   the same with the user's training items removed
                                 from the ranking first

  rmse                           sqrt(mean((rating - predicted_rating)^2)) over
                                 held-out interactions that have a rating

for K in TOP_K_VALUES. Both top-K metrics rank the held-out interactions of a
fixed hash sample of at most `gate.top_k_max_users` users (all of them when
there are fewer, as on MovieLens); the rest carry rank -1 and drop out of the
mean. One TFMA metric, `RecommenderMetrics`, computes them all.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
from typing import Any, Iterable, List, Optional

import apache_beam as beam
import numpy as np
import scann  # noqa: F401  (registers the ScaNN ops before TFMA loads the model)
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from mtrec.trainer_module.features import (RANK_OUTPUT, RANK_SEEN_EXCLUDED_OUTPUT, RATING_OUTPUT,
                                           RMSE_METRIC, TOP_K_VALUES, top_k_metric_name)

@dataclasses.dataclass
class _Accumulator:
    """Sums for every metric of one model: hits[d][i] counts ranks below
    TOP_K_VALUES[i] under definition d (0: TFRS, 1: seen excluded)."""
    hits: List[List[int]] = dataclasses.field(
        default_factory=lambda: [[0] * len(TOP_K_VALUES), [0] * len(TOP_K_VALUES)])
    ranked: List[int] = dataclasses.field(default_factory=lambda: [0, 0])
    squared_error: float = 0.0
    rated: int = 0


_RANK_OUTPUTS = (RANK_OUTPUT, RANK_SEEN_EXCLUDED_OUTPUT)  # the order of the definitions
_NOT_PLAIN = object()


def _select(value: Any, name: str) -> Any:
    """TFMA's lookup of one level (`StandardMetricInputs.get_by_key`) for plain
    dicts: value[name], or value itself when it holds no such entry; _NOT_PLAIN
    for anything TFMA would treat otherwise (another Mapping, an empty entry,
    "name/..."-prefixed keys), which then takes TFMA's own path.

    TFMA's generic lookup, with its typing.Mapping checks, was most of this
    combiner's time (profile in docs/benchmarks.md).
    """
    if type(value) is not dict:
        return _NOT_PLAIN if isinstance(value, collections.abc.Mapping) else value
    if name in value:
        chosen = value[name]
        if isinstance(chosen, collections.abc.Mapping) and not chosen:
            return _NOT_PLAIN
        return chosen
    prefix = name + "/"
    return _NOT_PLAIN if any(key.startswith(prefix) for key in value) else value


class _RecommenderCombiner(beam.CombineFn):
    """Every top-K accuracy and RMSE of one model, in one pass.

    TFMA calls a combiner once per example per slice; one combiner that reads
    each output once is much cheaper than one combiner per metric, each with
    its own lookup, which dominated the Evaluator's time (measured:
    docs/benchmarks.md).
    Outputs are read by name rather than through TFMA's label/prediction
    pairing, because the rank outputs have no label.
    """

    def __init__(self, model_name: str, rmse: bool):
        self._model_name = model_name
        self._rmse = rmse
        self._top_k_keys = [[metric_key(top_k_metric_name(k, seen_excluded), model_name)
                             for k in TOP_K_VALUES] for seen_excluded in (False, True)]
        self._rmse_key = metric_key(RMSE_METRIC, model_name)

    @property
    def keys(self) -> List[metric_types.MetricKey]:
        """Every key `extract_output` returns."""
        return [key for row in self._top_k_keys for key in row] + (
            [self._rmse_key] if self._rmse else [])

    def _values(self, element: metric_types.StandardMetricInputs, key: str,
                output: str) -> List[float]:
        """The `key` ('predictions' or 'labels') entry of one model output, flat.

        Plain Python from here on: an element is usually one example, and
        NumPy's per-call cost on one-element arrays exceeds the arithmetic
        (for the same reason an ndarray skips `np.asarray`, a fifth of the cost).
        """
        value = element[key] if key in element else None
        for name in (self._model_name, output):
            value = _select(value, name)
            if value is _NOT_PLAIN:
                value = element.get_by_key(key, self._model_name, output)
                break
        if type(value) is np.ndarray:
            return value.ravel().tolist()
        return np.ravel(np.asarray(value, dtype=np.float64)).tolist()

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def add_input(self, accumulator: _Accumulator,
                  element: metric_types.StandardMetricInputs) -> _Accumulator:
        for definition, output in enumerate(_RANK_OUTPUTS):
            hits = accumulator.hits[definition]
            for rank in self._values(element, "predictions", output):
                if rank < 0:  # the user is outside the ranked sample (export.NOT_RANKED)
                    continue
                accumulator.ranked[definition] += 1
                for i, k in enumerate(TOP_K_VALUES):
                    if rank < k:
                        hits[i] += 1
        if self._rmse:
            labels = self._values(element, "labels", RATING_OUTPUT)
            predictions = self._values(element, "predictions", RATING_OUTPUT)
            for label, prediction in zip(labels, predictions):
                if not math.isnan(label):  # NaN: a row without a rating
                    accumulator.squared_error += (label - prediction) ** 2
                    accumulator.rated += 1
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        merged = _Accumulator()
        for accumulator in accumulators:
            for definition in range(len(_RANK_OUTPUTS)):
                merged.ranked[definition] += accumulator.ranked[definition]
                merged.hits[definition] = [a + b for a, b in zip(merged.hits[definition],
                                                                 accumulator.hits[definition])]
            merged.squared_error += accumulator.squared_error
            merged.rated += accumulator.rated
        return merged

    def extract_output(self, accumulator: _Accumulator) -> metric_types.MetricsDict:
        result = {}
        for definition, keys in enumerate(self._top_k_keys):
            ranked = accumulator.ranked[definition]
            for key, hits in zip(keys, accumulator.hits[definition]):
                result[key] = hits / ranked if ranked else float("nan")
        if self._rmse:
            result[self._rmse_key] = (math.sqrt(accumulator.squared_error / accumulator.rated)
                                      if accumulator.rated else float("nan"))
        return result


def metric_key(name: str, model_name: str = "") -> metric_types.MetricKey:
    """The key of one of our metrics, as the gate's thresholds name it.

    Thresholds keyed by metric name (`MetricsSpec.per_slice_thresholds`, the way
    to gate one of several metrics a class computes) look up keys with
    `example_weighted=None`, so the computed keys carry the same.
    """
    return metric_types.MetricKey(name=name, model_name=model_name, example_weighted=None)


class RecommenderMetrics(tfma.metrics.Metric):
    """Every top-K accuracy (K in TOP_K_VALUES, both definitions) and, when the
    data has ratings, RMSE: one combiner per model (see _RecommenderCombiner)."""

    def __init__(self, rmse: bool = True, name: str = "recommender_metrics"):
        super().__init__(self._create, rmse=rmse, name=name)

    @staticmethod
    def _create(rmse: bool, name: str,
                model_names: Optional[List[str]] = None) -> metric_types.MetricComputations:
        # With a baseline, TFMA evaluates the candidate and the baseline model
        # side by side under their model names.
        computations = []
        for model_name in model_names or [""]:
            combiner = _RecommenderCombiner(model_name, rmse)
            computations.append(metric_types.MetricComputation(
                keys=combiner.keys, preprocessors=None, combiner=combiner))
        return computations


def custom_eval_shared_model(eval_saved_model_path: str, model_name: str,
                             eval_config: tfma.EvalConfig, **kwargs: Any) -> tfma.types.EvalSharedModel:
    """The Evaluator's model loader: TFMA's default, reached only after `import scann`."""
    return tfma.default_eval_shared_model(
        eval_saved_model_path=eval_saved_model_path, model_name=model_name,
        eval_config=eval_config, **kwargs)
