"""The TFMA custom metrics: top-K accuracy from ranks, RMSE from ratings."""

import json
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs, metric_types

from mtrec.trainer_module import features
from mtrec.trainer_module.evaluation import RootMeanSquaredError, TopKAccuracy

RANKS = [0, 3, 9, 10, 150]
RANKS_SEEN_EXCLUDED = [0, 1, 2, 4, 99]
RATINGS = [4.0, 2.0, float("nan"), 5.0, 1.0]  # one implicit row without a rating
PREDICTED = [3.0, 2.5, 4.0, 5.0, 3.0]


def _inputs(model_names):
    """One StandardMetricInputs per example, keyed by model as TFMA does with a baseline."""
    elements = []
    for i in range(len(RANKS)):
        outputs = {features.RANK_OUTPUT: np.array([RANKS[i]]),
                   features.RANK_SEEN_EXCLUDED_OUTPUT: np.array([RANKS_SEEN_EXCLUDED[i]]),
                   features.RATING_OUTPUT: np.array([PREDICTED[i]], np.float32)}
        labels = {features.RATING_OUTPUT: np.array([RATINGS[i]])}
        if model_names:
            outputs = {name: outputs for name in model_names}
            labels = {name: labels for name in model_names}
        elements.append(metric_types.StandardMetricInputs(
            labels=labels, predictions=outputs, example_weights=None))
    return elements


def _evaluate(metric, model_names):
    results = {}
    for computation in metric.computations(model_names=model_names or [""]):
        combiner = computation.combiner
        accumulator = combiner.create_accumulator()
        for element in _inputs(model_names):
            accumulator = combiner.add_input(accumulator, element)
        accumulator = combiner.merge_accumulators([accumulator, combiner.create_accumulator()])
        results.update(combiner.extract_output(accumulator))
    return {(key.model_name, key.name): value for key, value in results.items()}


@pytest.mark.parametrize("model_names", [[], ["candidate", "baseline"]])
def test_top_k_accuracy_both_definitions(model_names):
    names = model_names or [""]
    tfrs_10 = _evaluate(TopKAccuracy(k=10, seen_excluded=False), model_names)
    unseen_10 = _evaluate(TopKAccuracy(k=10, seen_excluded=True), model_names)
    unseen_100 = _evaluate(TopKAccuracy(k=100, seen_excluded=True), model_names)
    for name in names:
        assert tfrs_10[(name, "top_10_accuracy")] == pytest.approx(3 / 5)  # ranks 0, 3, 9
        assert unseen_10[(name, "top_10_accuracy_seen_excluded")] == pytest.approx(4 / 5)
        assert unseen_100[(name, "top_100_accuracy_seen_excluded")] == pytest.approx(1.0)


@pytest.mark.parametrize("model_names", [[], ["candidate", "baseline"]])
def test_rmse_skips_rows_without_a_rating(model_names):
    result = _evaluate(RootMeanSquaredError(), model_names)
    rated = [(r, p) for r, p in zip(RATINGS, PREDICTED) if not math.isnan(r)]
    expected = math.sqrt(sum((r - p) ** 2 for r, p in rated) / len(rated))
    for name in model_names or [""]:
        assert result[(name, features.RMSE_METRIC)] == pytest.approx(expected)


def test_metrics_deserialize_from_an_eval_config():
    """The Evaluator builds them from MetricConfig(class_name, module, config)."""
    config = tfma.MetricConfig(class_name="TopKAccuracy", module="mtrec.trainer_module.evaluation",
                               config=json.dumps({"k": 5, "seen_excluded": True,
                                                  "name": "top_5_accuracy_seen_excluded"}))
    metric = metric_specs.metric_instance(config)
    assert isinstance(metric, TopKAccuracy)
    assert metric.name == "top_5_accuracy_seen_excluded"


def test_top_k_accuracy_skips_interactions_outside_the_ranked_sample():
    combiner = TopKAccuracy(k=10, seen_excluded=False).computations(model_names=[""])[0].combiner
    accumulator = combiner.create_accumulator()
    for rank in (0, -1, 50, -1):  # -1: the user is not in the ranked sample
        element = metric_types.StandardMetricInputs(
            labels={}, predictions={features.RANK_OUTPUT: np.array([rank])}, example_weights=None)
        accumulator = combiner.add_input(accumulator, element)
    assert list(combiner.extract_output(accumulator).values()) == [pytest.approx(0.5)]
