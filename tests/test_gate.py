"""The gate's EvalConfig: which metrics carry thresholds, per objective."""

import json

import pytest

from mtrec.pipeline.config import load_config
import tensorflow_model_analysis as tfma

from mtrec.pipeline.gate import build_eval_config, gate_thresholds
from mtrec.trainer_module.slices import SLICE_FEATURES
from mtrec.serving.server import RequestError, _int_field


def _gated(objective: str) -> set:
    config = load_config(overrides={"model.objective": objective})
    settings = config.trainer_settings()
    eval_config = build_eval_config(config.gate, config.data.has_ratings,
                                    gate_top_k=settings.retrieval_weight > 0,
                                    gate_rmse=settings.rating_weight > 0)
    return set(gate_thresholds(eval_config))


TOP_K = {"top_100_accuracy_seen_excluded", "lift_over_most_popular"}
RMSE = {"rmse", "rmse_gain_over_biases"}


@pytest.mark.parametrize("objective,gated", [
    ("joint", TOP_K | RMSE),
    ("retrieval", TOP_K),  # the untrained rating head is not gated
    ("rating", RMSE),
])
def test_only_trained_tasks_are_gated(objective, gated):
    assert _gated(objective) == gated


def test_slices_are_computed_but_only_the_overall_slice_is_gated():
    config = load_config()
    eval_config = build_eval_config(config.gate, True)
    assert [list(s.feature_keys) for s in eval_config.slicing_specs] == [
        [], *[[name] for name in SLICE_FEATURES]]
    spec = eval_config.metrics_specs[0]
    assert not spec.thresholds  # they would apply to every slice
    assert set(spec.per_slice_thresholds) == TOP_K | RMSE
    for per_metric in spec.per_slice_thresholds.values():
        for per_slice in per_metric.thresholds:
            assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]


def test_thresholds_of_earlier_eval_configs_are_still_read():
    """Runs before one metric class computed everything put each threshold on
    its metric's own MetricConfig; `mtrec models` still shows them."""
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(upper_bound={"value": 0.93}))
    legacy = tfma.MetricConfig(class_name="RootMeanSquaredError", config=json.dumps({"name": "rmse"}))
    legacy.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
    eval_config = tfma.EvalConfig(metrics_specs=[tfma.MetricsSpec(metrics=[legacy])])
    assert gate_thresholds(eval_config) == {"rmse": threshold}


@pytest.mark.parametrize("raw", ["--5", "²", "ten", "1.5"])
def test_malformed_integers_are_a_bad_request(raw):
    with pytest.raises(RequestError, match="must be an integer"):
        _int_field(raw, "k")
