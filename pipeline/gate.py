"""The gate: the TFMA EvalConfig the Evaluator blesses models with.

Every top-K accuracy (K = 1, 5, 10, 50, 100, both definitions) and RMSE are
computed; the gate sits on the configured top-K metric and on RMSE, each with
an absolute bound and a bound on the change against the baseline (the last
blessed model). TFMA skips change thresholds when there is no baseline yet.
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from mtrec.pipeline.config import GateConfig
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
                metric.threshold.CopyFrom(_top_k_threshold(gate))
            metrics.append(metric)
    label_keys = {}
    if has_ratings:
        rmse = tfma.MetricConfig(class_name="RootMeanSquaredError", module=METRICS_MODULE,
                                 config=json.dumps({"name": RMSE_METRIC}))
        if gate_rmse:
            rmse.threshold.CopyFrom(_rmse_threshold(gate))
        metrics.append(rmse)
        label_keys = {RATING_OUTPUT: RATING}
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=EVAL_SIGNATURE, label_keys=label_keys)],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        slicing_specs=[tfma.SlicingSpec()])
