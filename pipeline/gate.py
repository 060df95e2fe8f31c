"""The gate: the TFMA EvalConfig the Evaluator blesses models with.

Every top-K accuracy (K = 1, 5, 10, 50, 100, both definitions) and RMSE are
computed, with the naive baselines' on the same interactions, by one metric
class (trainer_module/evaluation.py). By default the gate asks, on any data,
without numbers tuned to it:

- that the model beat most-popular's top-K (seen excluded) by
  `gate.min_lift_over_most_popular`, at the configured K or, when that K is
  over a fifth of the corpus, a smaller one (features.gated_k);
- that its RMSE beat user + item biases' by `gate.min_rmse_gain_over_biases`;
- that neither the configured top-K metric nor RMSE be worse than the
  baseline's (the last blessed model) by more than the allowed change. TFMA
  skips change thresholds when there is no baseline yet.

Absolute bounds (`gate.min_top_k_accuracy`, `gate.max_rmse`) apply when set,
as the dataset presets do. Metrics are also computed per user-activity and
item-popularity bucket (see trainer_module/slices.py); thresholds apply to the
overall slice only.
"""

from __future__ import annotations

import json
import math
from typing import Dict, Optional

import tensorflow_model_analysis as tfma

from mtrec.pipeline.config import GateConfig
from mtrec.trainer_module.slices import SLICE_FEATURES
from mtrec.trainer_module.features import (LIFT_METRIC, RATING, RATING_OUTPUT, RMSE_GAIN_METRIC,
                                           RMSE_METRIC, k_of_metric)

METRICS_MODULE = "mtrec.trainer_module.evaluation"
EVAL_SIGNATURE = "evaluate"


def _top_k_threshold(gate: GateConfig) -> tfma.MetricThreshold:
    threshold = tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.HIGHER_IS_BETTER,
        absolute={"value": -gate.max_top_k_accuracy_drop}))
    if gate.min_top_k_accuracy > 0:
        threshold.value_threshold.lower_bound.value = gate.min_top_k_accuracy
    return threshold


def _rmse_threshold(gate: GateConfig) -> tfma.MetricThreshold:
    threshold = tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.LOWER_IS_BETTER,
        absolute={"value": gate.max_rmse_increase}))
    if math.isfinite(gate.max_rmse):
        threshold.value_threshold.upper_bound.value = gate.max_rmse
    return threshold


def _at_least(bound: float) -> tfma.MetricThreshold:
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": bound}))


def _gate_overall(spec: tfma.MetricsSpec, metric_name: str,
                  threshold: tfma.MetricThreshold) -> None:
    """Gates `metric_name` on the overall slice only.

    Keyed by metric name because one metric class computes them all
    (trainer_module/evaluation.py); `MetricsSpec.thresholds` would apply to
    every slice, so a bucket with few examples (cold-start users score 0) would
    refuse every model.
    """
    spec.per_slice_thresholds[metric_name].thresholds.add(
        slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def _overall(per_slice_thresholds) -> Optional[tfma.MetricThreshold]:
    for per_slice in per_slice_thresholds:
        if any(spec == tfma.SlicingSpec() for spec in per_slice.slicing_specs):
            return per_slice.threshold
    return None


def gate_thresholds(eval_config: tfma.EvalConfig) -> Dict[str, tfma.MetricThreshold]:
    """metric name -> the threshold the gate puts on it (overall slice).

    Also reads the eval configs of earlier versions, which put a threshold on
    each metric's own MetricConfig (one class per metric).
    """
    thresholds = {}
    for spec in eval_config.metrics_specs:
        for name, per_slice in spec.per_slice_thresholds.items():
            threshold = _overall(per_slice.thresholds)
            if threshold is not None:
                thresholds[name] = threshold
        for metric in spec.metrics:
            name = json.loads(metric.config or "{}").get("name", metric.class_name)
            threshold = (metric.threshold if metric.HasField("threshold")
                         else _overall(metric.per_slice_thresholds))
            if threshold is not None:
                thresholds[name] = threshold
    return thresholds


def build_eval_config(gate: GateConfig, has_ratings: bool, gate_top_k: bool = True,
                      gate_rmse: bool = True) -> tfma.EvalConfig:
    """The EvalConfig for the Evaluator; RMSE only when the data has ratings.

    A task trained with weight 0 is reported but not gated (`gate_top_k`,
    `gate_rmse`): an untrained head would otherwise fail its bound every run.
    """
    spec = tfma.MetricsSpec(metrics=[
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="RecommenderMetrics", module=METRICS_MODULE,
                          config=json.dumps({"rmse": has_ratings,
                                             "gate_k": k_of_metric(gate.top_k_metric)}))])
    if gate_top_k:
        _gate_overall(spec, gate.top_k_metric, _top_k_threshold(gate))
        _gate_overall(spec, LIFT_METRIC, _at_least(gate.min_lift_over_most_popular))
    label_keys = {}
    if has_ratings:
        if gate_rmse:
            _gate_overall(spec, RMSE_METRIC, _rmse_threshold(gate))
            _gate_overall(spec, RMSE_GAIN_METRIC, _at_least(gate.min_rmse_gain_over_biases))
        label_keys = {RATING_OUTPUT: RATING}
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=EVAL_SIGNATURE, label_keys=label_keys)],
        metrics_specs=[spec],
        # Overall (what the thresholds gate), then by the training-data buckets
        # the model's `transformed_features` signature labels each example with.
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[name])
                                               for name in SLICE_FEATURES])
