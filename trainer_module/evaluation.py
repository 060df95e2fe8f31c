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

for K in TOP_K_VALUES. The top-K metrics rank the held-out interactions of a
fixed hash sample of at most `gate.top_k_max_users` users (all of them when
there are fewer, as on MovieLens); the rest carry rank -1 and drop out of the
mean. The naive baselines, scored by the model's `evaluate` signature on the
same interactions (trainer_module/baselines.py):

  most_popular_top_K_accuracy_seen_excluded   top_K_accuracy_seen_excluded of
                                 the items ranked by training interactions
  global_mean_rmse, bias_rmse    rmse of the training mean, of user + item biases

and what the gate reads (pipeline/gate.py), at the gated K (features.gated_k:
the configured K, smaller for a small corpus):

  corpus_size, gated_k           the items ranked, and that K
  lift_over_most_popular         top_K_accuracy_seen_excluded / most-popular's - 1
  rmse_gain_over_biases          bias_rmse / rmse - 1

One TFMA metric, `RecommenderMetrics`, computes them all.
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

from mtrec.trainer_module.features import (
    BIAS_RATING_OUTPUT, BIAS_RMSE_METRIC, CORPUS_SIZE_METRIC, CORPUS_SIZE_OUTPUT, GATED_K_METRIC,
    LIFT_METRIC, MEAN_RATING_OUTPUT, MEAN_RMSE_METRIC, POPULAR_RANK_OUTPUT, RANK_OUTPUT,
    RANK_SEEN_EXCLUDED_OUTPUT, RATING_OUTPUT, RMSE_GAIN_METRIC, RMSE_METRIC, TOP_K_VALUES,
    gated_k, popular_top_k_metric_name, top_k_metric_name)

@dataclasses.dataclass
class _Accumulator:
    """Sums for every metric of one model: hits[d][i] counts ranks below
    TOP_K_VALUES[i] under definition d (0: TFRS, 1: seen excluded, 2: most-popular,
    seen excluded); squared_errors[p] sums over the rated interactions for
    predictor p (0: the model, 1: the training mean, 2: user + item biases)."""
    hits: List[List[int]] = dataclasses.field(
        default_factory=lambda: [[0] * len(TOP_K_VALUES) for _ in _RANK_OUTPUTS])
    ranked: List[int] = dataclasses.field(default_factory=lambda: [0] * len(_RANK_OUTPUTS))
    squared_errors: List[float] = dataclasses.field(
        default_factory=lambda: [0.0] * len(_RATING_OUTPUTS))
    rated: List[int] = dataclasses.field(default_factory=lambda: [0] * len(_RATING_OUTPUTS))
    corpus_size: int = 0  # 0: not reported (a model exported before the baselines)


# The order of the definitions and predictors in _Accumulator.
_RANK_OUTPUTS = (RANK_OUTPUT, RANK_SEEN_EXCLUDED_OUTPUT, POPULAR_RANK_OUTPUT)
_RATING_OUTPUTS = (RATING_OUTPUT, MEAN_RATING_OUTPUT, BIAS_RATING_OUTPUT)
_BASELINE_OUTPUTS = {POPULAR_RANK_OUTPUT, MEAN_RATING_OUTPUT, BIAS_RATING_OUTPUT,
                     CORPUS_SIZE_OUTPUT}
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
    """Every top-K accuracy and RMSE of one model, and of the naive baselines
    scored on the same interactions, in one pass.

    TFMA calls a combiner once per example per slice; one combiner that reads
    each output once is much cheaper than one combiner per metric, each with
    its own lookup, which dominated the Evaluator's time (measured:
    docs/benchmarks.md).
    Outputs are read by name rather than through TFMA's label/prediction
    pairing, because the rank outputs have no label. A model exported before
    the baselines has none of their outputs; its baseline metrics are left out.
    """

    def __init__(self, model_name: str, rmse: bool, gate_k: int = max(TOP_K_VALUES)):
        self._model_name = model_name
        # The levels to look an output up by. An unnamed model (a single-model
        # evaluation) adds none: TFMA would look for a '' entry or '/'-prefixed
        # keys, which the exported output names never are, and that scan was
        # a tenth of this combiner's time (docs/benchmarks.md).
        self._model_levels = (model_name,) if model_name else ()
        self._rmse = rmse
        self._gate_k = gate_k
        names = ([top_k_metric_name(k, False) for k in TOP_K_VALUES],
                 [top_k_metric_name(k, True) for k in TOP_K_VALUES],
                 [popular_top_k_metric_name(k) for k in TOP_K_VALUES])
        self._top_k_keys = [[metric_key(name, model_name) for name in row] for row in names]
        self._rmse_keys = [metric_key(name, model_name)
                           for name in (RMSE_METRIC, MEAN_RMSE_METRIC, BIAS_RMSE_METRIC)]
        self._gate_keys = [metric_key(name, model_name) for name in
                           (CORPUS_SIZE_METRIC, GATED_K_METRIC, LIFT_METRIC, RMSE_GAIN_METRIC)]

    @property
    def keys(self) -> List[metric_types.MetricKey]:
        """Every key `extract_output` may return."""
        return ([key for row in self._top_k_keys for key in row]
                + (self._rmse_keys if self._rmse else [])
                + (self._gate_keys if self._rmse else self._gate_keys[:3]))

    def _values(self, element: metric_types.StandardMetricInputs, key: str,
                output: str) -> Optional[List[float]]:
        """The `key` ('predictions' or 'labels') entry of one model output, flat;
        None for a baseline output the model does not have.

        Plain Python from here on: an element is usually one example, and
        NumPy's per-call cost on one-element arrays exceeds the arithmetic
        (for the same reason an ndarray skips `np.asarray`, a fifth of the cost).
        """
        value = element[key] if key in element else None
        for name in (*self._model_levels, output):
            if (name == output and output in _BASELINE_OUTPUTS and type(value) is dict
                    and output not in value):
                return None
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
            for rank in self._values(element, "predictions", output) or ():
                if rank < 0:  # the user is outside the ranked sample (export.NOT_RANKED)
                    continue
                accumulator.ranked[definition] += 1
                for i, k in enumerate(TOP_K_VALUES):
                    if rank < k:
                        hits[i] += 1
        if not accumulator.corpus_size:  # one model's corpus: read once per accumulator
            corpus = self._values(element, "predictions", CORPUS_SIZE_OUTPUT)
            accumulator.corpus_size = int(corpus[0]) if corpus else 0
        if self._rmse:
            labels = self._values(element, "labels", RATING_OUTPUT)
            for predictor, output in enumerate(_RATING_OUTPUTS):
                predictions = self._values(element, "predictions", output)
                if predictions is None:
                    continue
                for label, prediction in zip(labels, predictions):
                    if not math.isnan(label):  # NaN: a row without a rating
                        accumulator.squared_errors[predictor] += (label - prediction) ** 2
                        accumulator.rated[predictor] += 1
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        merged = _Accumulator()
        for accumulator in accumulators:
            for definition in range(len(_RANK_OUTPUTS)):
                merged.ranked[definition] += accumulator.ranked[definition]
                merged.hits[definition] = [a + b for a, b in zip(merged.hits[definition],
                                                                 accumulator.hits[definition])]
            for predictor in range(len(_RATING_OUTPUTS)):
                merged.squared_errors[predictor] += accumulator.squared_errors[predictor]
                merged.rated[predictor] += accumulator.rated[predictor]
            merged.corpus_size = max(merged.corpus_size, accumulator.corpus_size)
        return merged

    def extract_output(self, accumulator: _Accumulator) -> metric_types.MetricsDict:
        result = {}
        accuracies = []
        for definition, keys in enumerate(self._top_k_keys):
            ranked = accumulator.ranked[definition]
            accuracies.append([hits / ranked if ranked else float("nan")
                               for hits in accumulator.hits[definition]])
            if ranked or definition < 2:  # most-popular only when the model scored it
                result.update(zip(keys, accuracies[-1]))
        if self._rmse:
            for key, squared_error, rated in zip(self._rmse_keys, accumulator.squared_errors,
                                                 accumulator.rated):
                if rated or key is self._rmse_keys[0]:
                    result[key] = math.sqrt(squared_error / rated) if rated else float("nan")
        if accumulator.corpus_size:
            corpus_key, k_key, lift_key, gain_key = self._gate_keys
            k = gated_k(self._gate_k, accumulator.corpus_size)
            result[corpus_key] = float(accumulator.corpus_size)
            result[k_key] = float(k)
            if accumulator.ranked[2]:
                model, popular = (accuracies[d][TOP_K_VALUES.index(k)] for d in (1, 2))
                result[lift_key] = _lift(model, popular)
            if self._rmse and accumulator.rated[2]:
                model, biases = (result[self._rmse_keys[p]] for p in (0, 2))
                result[gain_key] = _lift(biases, model)
        return result


def _lift(value: float, reference: float) -> float:
    """value / reference - 1: 0 when both are 0, +inf when only the reference is."""
    if reference == 0:
        return 0.0 if value == 0 else math.inf
    return value / reference - 1.0


def metric_key(name: str, model_name: str = "") -> metric_types.MetricKey:
    """The key of one of our metrics, as the gate's thresholds name it.

    Thresholds keyed by metric name (`MetricsSpec.per_slice_thresholds`, the way
    to gate one of several metrics a class computes) look up keys with
    `example_weighted=None`, so the computed keys carry the same.
    """
    return metric_types.MetricKey(name=name, model_name=model_name, example_weighted=None)


class RecommenderMetrics(tfma.metrics.Metric):
    """Every top-K accuracy (K in TOP_K_VALUES, both definitions, and most-popular's)
    and, when the data has ratings, the RMSEs, with the gate's derived metrics at
    the gated K (`gate_k`, capped for a small corpus): one combiner per model (see
    _RecommenderCombiner)."""

    def __init__(self, rmse: bool = True, gate_k: int = max(TOP_K_VALUES),
                 name: str = "recommender_metrics"):
        super().__init__(self._create, rmse=rmse, gate_k=gate_k, name=name)

    @staticmethod
    def _create(rmse: bool, gate_k: int, name: str,
                model_names: Optional[List[str]] = None) -> metric_types.MetricComputations:
        # With a baseline, TFMA evaluates the candidate and the baseline model
        # side by side under their model names.
        computations = []
        for model_name in model_names or [""]:
            combiner = _RecommenderCombiner(model_name, rmse, gate_k)
            computations.append(metric_types.MetricComputation(
                keys=combiner.keys, preprocessors=None, combiner=combiner))
        return computations


def custom_eval_shared_model(eval_saved_model_path: str, model_name: str,
                             eval_config: tfma.EvalConfig, **kwargs: Any) -> tfma.types.EvalSharedModel:
    """The Evaluator's model loader: TFMA's default, reached only after `import scann`."""
    return tfma.default_eval_shared_model(
        eval_saved_model_path=eval_saved_model_path, model_name=model_name,
        eval_config=eval_config, **kwargs)
