"""The TFMA custom metric: every top-K accuracy from ranks and RMSE from ratings."""

import json
import math
import pathlib

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs, metric_types

from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.utils import config_util

from mtrec.pipeline.config import load_config
from mtrec.pipeline.gate import build_eval_config
from mtrec.trainer_module import features
from mtrec.trainer_module.evaluation import RecommenderMetrics

RANKS = [0, 3, 9, 10, 150]
RANKS_SEEN_EXCLUDED = [0, 1, 2, 4, 99]
POPULAR_RANKS = [0, 7, 12, 40, 300]  # most-popular's, seen excluded
RATINGS = [4.0, 2.0, float("nan"), 5.0, 1.0]  # one implicit row without a rating
PREDICTED = [3.0, 2.5, 4.0, 5.0, 3.0]
MEAN = [3.5] * 5
BIASES = [3.0, 3.0, 3.0, 4.0, 3.0]
CORPUS = 1_000


# What a model scores only when it exports the naive baselines' outputs.
BASELINE_METRICS = {features.popular_top_k_metric_name(k) for k in features.TOP_K_VALUES} | {
    features.MEAN_RMSE_METRIC, features.BIAS_RMSE_METRIC, features.CORPUS_SIZE_METRIC,
    features.GATED_K_METRIC, features.LIFT_METRIC, features.RMSE_GAIN_METRIC}


def _rmse(predicted):
    rated = [(r, p) for r, p in zip(RATINGS, predicted) if not math.isnan(r)]
    return math.sqrt(sum((r - p) ** 2 for r, p in rated) / len(rated))


def _inputs(model_names, baselines=True, corpus=CORPUS):
    """One StandardMetricInputs per example, keyed by model as TFMA does with a
    baseline; without the baselines' outputs, as a model exported before them."""
    elements = []
    for i in range(len(RANKS)):
        outputs = {features.RANK_OUTPUT: np.array([RANKS[i]]),
                   features.RANK_SEEN_EXCLUDED_OUTPUT: np.array([RANKS_SEEN_EXCLUDED[i]]),
                   features.RATING_OUTPUT: np.array([PREDICTED[i]], np.float32)}
        if baselines:
            outputs.update({features.POPULAR_RANK_OUTPUT: np.array([POPULAR_RANKS[i]]),
                            features.MEAN_RATING_OUTPUT: np.array([MEAN[i]], np.float32),
                            features.BIAS_RATING_OUTPUT: np.array([BIASES[i]], np.float32),
                            features.CORPUS_SIZE_OUTPUT: np.array([corpus])})
        labels = {features.RATING_OUTPUT: np.array([RATINGS[i]])}
        if model_names:
            outputs = {name: outputs for name in model_names}
            labels = {name: labels for name in model_names}
        elements.append(metric_types.StandardMetricInputs(
            labels=labels, predictions=outputs, example_weights=None))
    return elements


def _evaluate(model_names, rmse=True, elements=None, gate_k=100):
    """(model name, metric name) -> value, through the combiner as TFMA drives it."""
    metric = RecommenderMetrics(rmse=rmse, gate_k=gate_k)
    results = {}
    for computation in metric.computations(model_names=model_names or [""]):
        combiner = computation.combiner
        accumulator = combiner.create_accumulator()
        for element in elements or _inputs(model_names):
            accumulator = combiner.add_input(accumulator, element)
        accumulator = combiner.merge_accumulators([accumulator, combiner.create_accumulator()])
        output = combiner.extract_output(accumulator)
        assert set(output) <= set(computation.keys)
        if elements is None:  # every output present: every key computed
            assert set(output) == set(computation.keys)
        results.update(output)
    return {(key.model_name, key.name): value for key, value in results.items()}


@pytest.mark.parametrize("model_names", [[], ["candidate", "baseline"]])
def test_top_k_accuracy_both_definitions(model_names):
    result = _evaluate(model_names)
    for name in model_names or [""]:
        assert result[(name, "top_10_accuracy")] == pytest.approx(3 / 5)  # ranks 0, 3, 9
        assert result[(name, "top_1_accuracy")] == pytest.approx(1 / 5)
        assert result[(name, "top_100_accuracy")] == pytest.approx(4 / 5)  # not 150
        assert result[(name, "top_10_accuracy_seen_excluded")] == pytest.approx(4 / 5)
        assert result[(name, "top_100_accuracy_seen_excluded")] == pytest.approx(1.0)
        assert {metric for model, metric in result if model == name} == {
            features.top_k_metric_name(k, seen) for k in features.TOP_K_VALUES
            for seen in (False, True)} | {features.RMSE_METRIC} | BASELINE_METRICS


@pytest.mark.parametrize("model_names", [[], ["candidate", "baseline"]])
def test_the_naive_baselines_are_scored_on_the_same_interactions(model_names):
    result = _evaluate(model_names)
    for name in model_names or [""]:
        assert result[(name, "most_popular_top_10_accuracy_seen_excluded")] == pytest.approx(2 / 5)
        assert result[(name, "most_popular_top_100_accuracy_seen_excluded")] == pytest.approx(4 / 5)
        assert result[(name, features.MEAN_RMSE_METRIC)] == pytest.approx(_rmse(MEAN))
        assert result[(name, features.BIAS_RMSE_METRIC)] == pytest.approx(_rmse(BIASES))
        # At K = 100: the model's 5/5 against most-popular's 4/5.
        assert result[(name, features.GATED_K_METRIC)] == 100
        assert result[(name, features.LIFT_METRIC)] == pytest.approx(5 / 4 - 1)
        assert result[(name, features.RMSE_GAIN_METRIC)] == pytest.approx(
            _rmse(BIASES) / _rmse(PREDICTED) - 1)


def test_a_small_corpus_caps_the_gated_k():
    """Top-100 of a 40-item corpus is 1.0 by construction: the gate compares at K = 5."""
    result = _evaluate([], elements=_inputs([], corpus=40))
    assert result[("", features.CORPUS_SIZE_METRIC)] == 40
    assert result[("", features.GATED_K_METRIC)] == 5
    # At K = 5: the model's ranks 0, 1, 2, 4 (4/5) against most-popular's 0 (1/5).
    assert result[("", features.LIFT_METRIC)] == pytest.approx(4 / 1 - 1)
    assert [features.gated_k(100, n) for n in (40, 499, 500, 10_000)] == [5, 50, 100, 100]
    assert [features.gated_k(10, n) for n in (4, 49, 50)] == [1, 5, 10]


def test_a_model_exported_before_the_baselines_still_evaluates():
    """The last blessed model may lack their outputs: its own metrics are computed,
    and the baselines' are left out rather than reported as zero."""
    result = _evaluate([], elements=_inputs([], baselines=False))
    assert result[("", "top_100_accuracy_seen_excluded")] == pytest.approx(1.0)
    assert result[("", features.RMSE_METRIC)] == pytest.approx(_rmse(PREDICTED))
    assert not {name for _, name in result} & BASELINE_METRICS


@pytest.mark.parametrize("model_names", [[], ["candidate", "baseline"]])
def test_rmse_skips_rows_without_a_rating(model_names):
    result = _evaluate(model_names)
    for name in model_names or [""]:
        assert result[(name, features.RMSE_METRIC)] == pytest.approx(_rmse(PREDICTED))


def test_implicit_data_has_no_rmse():
    elements = [metric_types.StandardMetricInputs(
        labels={}, predictions={features.RANK_OUTPUT: np.array([rank]),
                                features.RANK_SEEN_EXCLUDED_OUTPUT: np.array([rank])},
        example_weights=None) for rank in RANKS]
    result = _evaluate([], rmse=False, elements=elements)
    assert ("", features.RMSE_METRIC) not in result
    assert result[("", "top_10_accuracy")] == pytest.approx(3 / 5)


def test_metrics_deserialize_from_an_eval_config():
    """The Evaluator builds them from MetricConfig(class_name, module, config)."""
    config = tfma.MetricConfig(class_name="RecommenderMetrics",
                               module="mtrec.trainer_module.evaluation",
                               config=json.dumps({"rmse": False}))
    metric = metric_specs.metric_instance(config)
    assert isinstance(metric, RecommenderMetrics)
    assert metric.kwargs["rmse"] is False


def test_top_k_accuracy_skips_interactions_outside_the_ranked_sample():
    elements = [metric_types.StandardMetricInputs(
        labels={}, predictions={features.RANK_OUTPUT: np.array([rank]),
                                features.RANK_SEEN_EXCLUDED_OUTPUT: np.array([rank])},
        example_weights=None) for rank in (0, -1, 50, -1)]  # -1: not in the ranked sample
    result = _evaluate([], rmse=False, elements=elements)
    assert result[("", "top_10_accuracy")] == pytest.approx(0.5)
    assert result[("", "top_100_accuracy_seen_excluded")] == pytest.approx(1.0)


def _validate(values, eval_config, has_baseline):
    """TFMA's own validation of computed metrics against the gate's thresholds,
    prepared as the Evaluator prepares it (a first run is rubber-stamped)."""
    eval_config = config_util.update_eval_config_with_defaults(
        eval_config, has_baseline=has_baseline, rubber_stamp=not has_baseline)
    result = metrics_validator.validate_metrics(((), values), eval_config)
    return {(failure.metric_key.name, failure.metric_key.is_diff)
            for per_slice in result.metric_validations_per_slice
            for failure in per_slice.failures}


def _computed(model_name, top_100, rmse, lift=0.5, gain=0.5):
    """Our metric's keys for one model, with the gated values set."""
    values = {}
    for computation in RecommenderMetrics().computations(model_names=[model_name]):
        for key in computation.keys:
            values[key] = 0.5
    gated = {"top_100_accuracy_seen_excluded": top_100, features.RMSE_METRIC: rmse,
             features.LIFT_METRIC: lift, features.RMSE_GAIN_METRIC: gain}
    for key in values:
        values[key] = gated.get(key.name, values[key])
    return values


def test_the_default_gate_asks_for_a_lead_over_the_naive_baselines():
    """The thresholds are keyed by metric name; TFMA must match them to our keys,
    or the gate would never refuse a model (or refuse it with 'metric not found')."""
    gate = load_config().gate
    eval_config = build_eval_config(gate, has_ratings=True)
    assert _validate(_computed("", 0.01, 3.0, lift=gate.min_lift_over_most_popular,
                               gain=gate.min_rmse_gain_over_biases),
                     eval_config, has_baseline=False) == set()
    assert _validate(_computed("", 0.01, 3.0, lift=gate.min_lift_over_most_popular - 0.01,
                               gain=gate.min_rmse_gain_over_biases - 0.01),
                     eval_config, has_baseline=False) == {
        (features.LIFT_METRIC, False), (features.RMSE_GAIN_METRIC, False)}


def test_absolute_bounds_apply_when_set_as_the_presets_do():
    gate = load_config(path=pathlib.Path(__file__).parents[1] / "configs" / "movielens-100k.toml").gate
    eval_config = build_eval_config(gate, has_ratings=True)
    good, bad = (gate.min_top_k_accuracy + 0.01, gate.max_rmse - 0.01), (
        gate.min_top_k_accuracy - 0.01, gate.max_rmse + 0.01)
    assert _validate(_computed("", *good), eval_config, has_baseline=False) == set()
    assert _validate(_computed("", *bad), eval_config, has_baseline=False) == {
        ("top_100_accuracy_seen_excluded", False), (features.RMSE_METRIC, False)}


def test_the_gate_compares_the_candidate_with_the_baseline():
    gate = load_config().gate
    eval_config = build_eval_config(gate, has_ratings=True)
    top_100, rmse = 0.5, 0.9
    baseline = _computed("baseline", top_100, rmse)
    diff = {key.make_diff_key(): 0.0 for key in _computed("candidate", top_100, rmse)}
    assert _validate({**_computed("candidate", top_100, rmse), **baseline, **diff},
                     eval_config, has_baseline=True) == set()
    worse = _computed("candidate", top_100 - 2 * gate.max_top_k_accuracy_drop,
                      rmse + 2 * gate.max_rmse_increase)
    diff = {key.make_diff_key(): 0.0 for key in worse}
    for key in worse:
        if key.name == "top_100_accuracy_seen_excluded":
            diff[key.make_diff_key()] = -2 * gate.max_top_k_accuracy_drop
        elif key.name == features.RMSE_METRIC:
            diff[key.make_diff_key()] = 2 * gate.max_rmse_increase
    assert _validate({**worse, **baseline, **diff}, eval_config, has_baseline=True) == {
        ("top_100_accuracy_seen_excluded", True), (features.RMSE_METRIC, True)}


@pytest.mark.parametrize("extracts", [
    {"predictions": {"rank": np.array([3])}},                                # one model
    {"predictions": {"candidate": {"rank": np.array([3])},                   # with a baseline
                     "baseline": {"rank": np.array([7])}}},
    {"predictions": {"candidate/rank": np.array([3])}},                      # prefixed keys
    {"predictions": np.array([5])},                                          # one output
    {"predictions": {"candidate": {}}},                                      # an empty entry
    {"labels": {"rating": np.array([4.0])}},                                 # no predictions
])
@pytest.mark.parametrize("model_name", ["", "candidate"])
def test_the_fast_lookup_returns_what_tfma_s_get_by_key_returns(extracts, model_name):
    from mtrec.trainer_module.evaluation import _RecommenderCombiner

    element = metric_types.StandardMetricInputs(extracts)
    combiner = _RecommenderCombiner(model_name, rmse=True)
    try:
        expected = np.ravel(np.asarray(element.get_by_key("predictions", model_name, "rank"),
                                       dtype=np.float64)).tolist()
    except (TypeError, ValueError) as error:  # TFMA's value is not a number either
        with pytest.raises(type(error)):
            combiner._values(element, "predictions", "rank")
        return
    np.testing.assert_array_equal(combiner._values(element, "predictions", "rank"), expected)
