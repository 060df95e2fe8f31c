"""Which spans a run uses (components/span_window.py), the drift lines the validator
prints, and the span settings: without running a pipeline (test_spans_e2e.py does)."""

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.types import standard_artifacts

from mtrec.components import span_window
from mtrec.components.validation import Constraints, DriftBounds, curate, drift_beyond_bounds
from mtrec.pipeline.config import ConfigError, load_config
from mtrec.pipeline.input_checks import InputError, check_inputs, newest_span_pattern


def _examples(artifact_id, span):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.set_int_custom_property("span", span)  # as ExampleGen's driver sets it
    return artifact


def _statistics(artifact_id, span):
    artifact = standard_artifacts.ExampleStatistics()
    artifact.id = artifact_id
    artifact.span = span
    return artifact


def _accepted(examples=None, statistics=None):
    anomalies = standard_artifacts.ExampleAnomalies()
    if examples is not None:
        anomalies.set_int_custom_property(span_window.EXAMPLES_ID_PROPERTY, examples.id)
    if statistics is not None:
        anomalies.set_int_custom_property(span_window.STATISTICS_ID_PROPERTY, statistics.id)
    return anomalies


def test_the_window_is_this_span_and_the_newest_accepted_version_of_each_earlier_one():
    span1, span2_old, span2_new, span3_refused, this_run = (
        _examples(1, 1), _examples(2, 2), _examples(5, 2), _examples(7, 3), _examples(9, 4))
    everything = [span1, span2_old, span2_new, span3_refused, this_run]
    accepted = [_accepted(span1), _accepted(span2_old), _accepted(span2_new)]
    window = span_window.rolling_window(this_run, everything, accepted, num_spans=3)
    # Span 3 was refused (no anomalies artifact names it); span 2 was re-read.
    assert [artifact.id for artifact in window] == [9, 5, 1]
    assert [a.id for a in span_window.rolling_window(this_run, everything, accepted, 2)] == [9, 5]
    assert [a.id for a in span_window.rolling_window(this_run, everything, accepted, 1)] == [9]


def test_without_spans_the_window_is_this_runs_examples_alone():
    # Every run reads span 0: an earlier artifact of span 0 is never in the window.
    earlier, this_run = _examples(1, 0), _examples(4, 0)
    window = span_window.rolling_window(this_run, [earlier, this_run], [_accepted(earlier)], 5)
    assert window == [this_run]


def test_the_strategy_anchors_on_this_run_and_refuses_a_bad_window_size():
    span1, span2 = _examples(1, 1), _examples(3, 2)
    strategy = span_window.RollingSpanWindowStrategy(num_spans=2)
    resolved = strategy.resolve_artifacts(None, {
        span_window.THIS_RUN_KEY: [span2], span_window.EXAMPLES_KEY: [span1, span2],
        span_window.ANOMALIES_KEY: [_accepted(span1)]})
    assert [a.id for a in resolved[span_window.EXAMPLES_KEY]] == [3, 1]
    # Airflow hands every run's Examples as "this run": the newest accepted one stands for it.
    airflow = strategy.resolve_artifacts(None, {
        span_window.THIS_RUN_KEY: [span1, span2], span_window.EXAMPLES_KEY: [span1, span2],
        span_window.ANOMALIES_KEY: [_accepted(span1), _accepted(span2)]})
    assert [a.id for a in airflow[span_window.EXAMPLES_KEY]] == [3, 1]
    with pytest.raises(ValueError, match="num_spans must be at least 1"):
        span_window.RollingSpanWindowStrategy(num_spans=0)


def test_drift_is_checked_against_the_newest_accepted_span_before_this_one():
    span1, span2, span3_refused, this_run = (_statistics(10, 1), _statistics(11, 2),
                                             _statistics(12, 3), _statistics(13, 4))
    accepted = [_accepted(statistics=span1), _accepted(statistics=span2)]
    everything = [span1, span2, span3_refused, this_run]
    assert span_window.previous_statistics(this_run, everything, accepted) == [span2]
    assert span_window.previous_statistics(span1, everything, accepted) == []
    assert span_window.span_of(span2) == 2 and span_window.span_of(_examples(1, 7)) == 7


def test_drift_lines_name_the_column_the_distance_the_span_and_the_setting():
    anomalies = anomalies_pb2.Anomalies()
    for feature, kind, value, bound in (
            ("rating", anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE, 0.31, 0.1),
            ("user_id", anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY, 0.02, 0.5)):
        info = anomalies.drift_skew_info.add()
        info.path.step.append(feature)
        info.drift_measurements.add(type=kind, value=value, threshold=bound)
    assert drift_beyond_bounds(anomalies, "train", previous_span=2) == [
        "column rating (train split): Jensen-Shannon divergence 0.31 from span 2, the previous "
        "accepted one, above drift.max_rating_drift = 0.1"]


def test_curate_sets_the_drift_comparators_and_drops_the_ids_value_domains():
    schema = schema_pb2.Schema()
    for name, kind in (("user_id", schema_pb2.BYTES), ("item_id", schema_pb2.INT),
                       ("rating", schema_pb2.INT)):
        schema.feature.add(name=name, type=kind)
    schema.feature[0].domain = "user_id"
    schema.string_domain.add(name="user_id", value=["u1", "u2"])
    bounds = DriftBounds(max_user_drift=0.5, max_item_drift=1.0, max_rating_drift=0.1)
    curated, _ = curate(schema, Constraints.for_data("d", True, 1, 5), bounds)
    by_name = {feature.name: feature for feature in curated.feature}
    assert by_name["user_id"].drift_comparator.infinity_norm.threshold == 0.5
    assert not by_name["user_id"].domain  # a span's ids constrain no other span
    assert not by_name["item_id"].HasField("drift_comparator")  # a bound of 1 is off
    assert by_name["rating"].drift_comparator.jensen_shannon_divergence.threshold == 0.1
    assert not curate(schema, Constraints.for_data("d", True, 1, 5))[0].feature[0].HasField(
        "drift_comparator")  # no previous span, no comparator


def test_span_settings_are_checked():
    with pytest.raises(ConfigError, match=r"data.window_spans: needs a span spec"):
        load_config(overrides={"data.window_spans": 3})
    with pytest.raises(ConfigError, match=r"data.window_spans: must be in 1..10000"):
        load_config(overrides={"data.file_pattern": "span-{SPAN}/*.csv", "data.window_spans": 0})
    with pytest.raises(ConfigError, match=r"drift.max_rating_drift: must be in \(0, 1\]"):
        load_config(overrides={"drift.max_rating_drift": 0})
    assert load_config(overrides={"data.file_pattern": "{YYYY}-{MM}-{DD}/*.csv"}).data.uses_spans()
    assert not load_config().data.uses_spans()


def test_the_input_checks_read_the_newest_span_only(tmp_path):
    for span, row in ((1, "u1,i1,4,100\n"), (2, "u1,i2,7,200\n"), (10, "u2,i1,5,300\n")):
        (tmp_path / f"span-{span}").mkdir()
        (tmp_path / f"span-{span}" / "r.csv").write_text("user_id,item_id,rating,timestamp\n" + row)
    assert newest_span_pattern(str(tmp_path), "span-{SPAN}/*.csv") == "span-10/*.csv"
    config = load_config(overrides={"data.ratings_dir": str(tmp_path), "data.items_file": "",
                                    "data.file_pattern": "span-{SPAN}/*.csv"})
    check_inputs(config)  # span 2's rating of 7 is not read again
    (tmp_path / "span-10" / "r.csv").write_text("user_id,item_id,rating,timestamp\nu1,i1,9,1\n")
    with pytest.raises(InputError, match=r"span-10/r.csv:2: column rating: 9 is outside"):
        check_inputs(config)
    with pytest.raises(InputError, match=r"no span matches 'day-\{SPAN\}/\*.csv'"):
        check_inputs(load_config(overrides={"data.ratings_dir": str(tmp_path), "data.items_file": "",
                                            "data.file_pattern": "day-{SPAN}/*.csv"}))
