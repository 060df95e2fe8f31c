"""The gate: the TFMA EvalConfig the Evaluator blesses models with.

Every top-K accuracy (K = 1, 5, 10, 50, 100, both definitions) and RMSE are
computed; the gate sits on the configured top-K metric and on RMSE, each with
an absolute bound and a bound on the change against the baseline (the last
blessed model). TFMA skips change thresholds when there is no baseline yet. Metrics are
also computed per user-activity and item-popularity bucket (see
trainer_module/slices.py); thresholds apply to the overall slice only.
"""

from __future__ import annotations

import json
from typing import Optional

import tensorflow_model_analysis as tfma

from mtrec.pipeline.config import GateConfig
from mtrec.trainer_module.slices import SLICE_FEATURES
from mtrec.trainer_module.features import (RATING, RATING_OUTPUT, RMSE_METRIC, TOP_K_VALUES,
                                           top_k_metric_name)

METRICS_MODULE = "mtrec.trainer_module.evaluation"
EVAL_SIGNATURE = "evaluate"


def _top_k_threshold(gate: GateConfig) -> tfma.MetricThreshold:
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": gate.min_top_k_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -gate.max_top_k_accuracy_drop}))


def _rmse_threshold(gate: GateConfig) -> tfma.MetricThreshold:
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(upper_bound={"value": gate.max_rmse}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": gate.max_rmse_increase}))


def _gate_overall(metric: tfma.MetricConfig, threshold: tfma.MetricThreshold) -> None:
    """Gates `metric` on the overall slice only.

    `MetricConfig.threshold` would apply to every slice, so a bucket with few
    examples (cold-start users score 0) would refuse every model.
    """
    metric.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def metric_threshold(metric: tfma.MetricConfig) -> Optional[tfma.MetricThreshold]:
    """The threshold the gate puts on `metric` (overall slice), None if it is not gated."""
    if metric.HasField("threshold"):  # configs written before slicing
        return metric.threshold
    for per_slice in metric.per_slice_thresholds:
        if any(spec == tfma.SlicingSpec() for spec in per_slice.slicing_specs):
            return per_slice.threshold
    return None


def build_eval_config(gate: GateConfig, has_ratings: bool, gate_top_k: bool = True,
                      gate_rmse: bool = True) -> tfma.EvalConfig:
    """The EvalConfig for the Evaluator; RMSE only when the data has ratings.

    A task trained with weight 0 is reported but not gated (`gate_top_k`,
    `gate_rmse`): an untrained head would otherwise fail its bound every run.
    """
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    for k in TOP_K_VALUES:
        for seen_excluded in (False, True):
            name = top_k_metric_name(k, seen_excluded)
            metric = tfma.MetricConfig(
                class_name="TopKAccuracy", module=METRICS_MODULE,
                config=json.dumps({"k": k, "seen_excluded": seen_excluded, "name": name}))
            if gate_top_k and name == gate.top_k_metric:
                _gate_overall(metric, _top_k_threshold(gate))
            metrics.append(metric)
    label_keys = {}
    if has_ratings:
        rmse = tfma.MetricConfig(class_name="RootMeanSquaredError", module=METRICS_MODULE,
                                 config=json.dumps({"name": RMSE_METRIC}))
        if gate_rmse:
            _gate_overall(rmse, _rmse_threshold(gate))
        metrics.append(rmse)
        label_keys = {RATING_OUTPUT: RATING}
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=EVAL_SIGNATURE, label_keys=label_keys)],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        # Overall (what the thresholds gate), then by the training-data buckets
        # the model's `transformed_features` signature labels each example with.
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[name])
                                               for name in SLICE_FEATURES])
