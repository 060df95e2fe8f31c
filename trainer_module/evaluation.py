"""Evaluator-side code: the TFMA metrics that gate the model, and its loader.

The Evaluator imports this module (its `module_path`), which imports `scann`
first so that TFMA can load a SavedModel holding ScaNN ops.

Metrics (DESIGN.md §5), computed by TFMA from the `evaluate` signature:

  top_K_accuracy                 mean over held-out interactions of 1[rank < K],
                                 rank = corpus items scored above the true item
                                 (the TFRS FactorizedTopK definition)
  top_K_accuracy_seen_excluded   the same with the user's training items removed
                                 from the ranking first

Both top-K metrics rank the held-out interactions of a fixed hash sample of
at most `gate.top_k_max_users` users (all of them when there are fewer, as on
MovieLens); the rest carry rank -1 and drop out of the mean.
  rmse                           sqrt(mean((rating - predicted_rating)^2)) over
                                 held-out interactions that have a rating
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Optional

import apache_beam as beam
import numpy as np
import scann  # noqa: F401  (registers the ScaNN ops before TFMA loads the model)
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util

from mtrec.trainer_module.features import (RANK_OUTPUT, RANK_SEEN_EXCLUDED_OUTPUT, RATING_OUTPUT,
                                           RMSE_METRIC, top_k_metric_name)

@dataclasses.dataclass
class _MeanAccumulator:
    total: float = 0.0
    count: int = 0


class _MeanCombiner(beam.CombineFn):
    """Mean of a per-example value read from one model output.

    Subclasses define `value(element)` (NaN skips an example) and may map the
    mean to the metric in `finish`. The output is read by name rather than
    through TFMA's label/prediction pairing, because the rank outputs have no
    label.
    """

    def __init__(self, key: metric_types.MetricKey, source_output: str):
        # The key keeps the spec's output name ('') so thresholds find it; the
        # combiner reads the model output the metric is defined on.
        self._key = key
        self._source_output = source_output

    def value(self, element: metric_types.StandardMetricInputs) -> np.ndarray:
        """Per-example values (NaN = skip) for one input; flat float array."""
        raise NotImplementedError

    def finish(self, mean: float) -> float:
        return mean

    def _output(self, element: metric_types.StandardMetricInputs, key: str) -> np.ndarray:
        """The `key` ('predictions' or 'labels') entry of the metric's model output."""
        value = element.get_by_key(key, self._key.model_name, self._source_output)
        return np.ravel(np.asarray(value, dtype=np.float64))

    def create_accumulator(self) -> _MeanAccumulator:
        return _MeanAccumulator()

    def add_input(self, accumulator: _MeanAccumulator,
                  element: metric_types.StandardMetricInputs) -> _MeanAccumulator:
        values = self.value(element)
        values = values[~np.isnan(values)]
        accumulator.total += float(values.sum())
        accumulator.count += int(values.size)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_MeanAccumulator]) -> _MeanAccumulator:
        merged = _MeanAccumulator()
        for accumulator in accumulators:
            merged.total += accumulator.total
            merged.count += accumulator.count
        return merged

    def extract_output(self, accumulator: _MeanAccumulator) -> metric_types.MetricsDict:
        mean = accumulator.total / accumulator.count if accumulator.count else float("nan")
        return {self._key: self.finish(mean)}


class _HitAtKCombiner(_MeanCombiner):
    def __init__(self, key: metric_types.MetricKey, source_output: str, k: int):
        super().__init__(key, source_output)
        self._k = k

    def value(self, element):
        ranks = self._output(element, "predictions")
        # A negative rank: the user is outside the ranked sample (export.NOT_RANKED).
        return np.where(ranks < 0, np.nan, (ranks < self._k).astype(np.float64))


class _SquaredErrorCombiner(_MeanCombiner):
    def value(self, element):
        # Rows without a rating (NaN label) drop out of the mean.
        return (self._output(element, "labels") - self._output(element, "predictions")) ** 2

    def finish(self, mean: float) -> float:
        return math.sqrt(mean)


# One computation per (model, output): with a baseline, TFMA evaluates the
# candidate and the baseline model side by side under their model names.
def _computation(key: metric_types.MetricKey,
                 combiner: _MeanCombiner) -> metric_types.MetricComputations:
    return [metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)]


class TopKAccuracy(tfma.metrics.Metric):
    """Fraction of held-out interactions whose item ranks in the top `k` of the corpus."""

    def __init__(self, k: int = 100, seen_excluded: bool = True, name: Optional[str] = None):
        super().__init__(metric_util.merge_per_key_computations(self._create), k=k,
                         seen_excluded=seen_excluded,
                         name=name or top_k_metric_name(k, seen_excluded))

    @staticmethod
    def _create(k: int, seen_excluded: bool, name: str, model_name: str = "",
                output_name: str = "") -> metric_types.MetricComputations:
        key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name)
        source = RANK_SEEN_EXCLUDED_OUTPUT if seen_excluded else RANK_OUTPUT
        return _computation(key, _HitAtKCombiner(key, source, k))


class RootMeanSquaredError(tfma.metrics.Metric):
    """RMSE of the predicted rating over held-out interactions that have a rating."""

    def __init__(self, name: str = RMSE_METRIC):
        super().__init__(metric_util.merge_per_key_computations(self._create), name=name)

    @staticmethod
    def _create(name: str, model_name: str = "",
                output_name: str = "") -> metric_types.MetricComputations:
        key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name)
        return _computation(key, _SquaredErrorCombiner(key, RATING_OUTPUT))


def custom_eval_shared_model(eval_saved_model_path: str, model_name: str,
                             eval_config: tfma.EvalConfig, **kwargs: Any) -> tfma.types.EvalSharedModel:
    """The Evaluator's model loader: TFMA's default, reached only after `import scann`."""
    return tfma.default_eval_shared_model(
        eval_saved_model_path=eval_saved_model_path, model_name=model_name,
        eval_config=eval_config, **kwargs)
