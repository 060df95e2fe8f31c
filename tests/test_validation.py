"""The curated schema the ExampleValidator checks statistics against."""

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from mtrec.components.validation import Constraints, curate

CONSTRAINTS = Constraints.for_data("data/", has_ratings=True, rating_min=1, rating_max=5)


def _anomalies(frame: pd.DataFrame, inferred_from: pd.DataFrame) -> dict:
    """Anomalies of `frame` against the schema inferred from clean data, curated."""
    schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(inferred_from))
    curated, problems = curate(schema, CONSTRAINTS)
    assert problems == []
    found = tfdv.validate_statistics(tfdv.generate_statistics_from_dataframe(frame), curated)
    return {name: info.description for name, info in found.anomaly_info.items()}


CLEAN = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "item_id": ["i1", "i2", "i3"],
                      "rating": [1.0, 4.5, 5.0]})


def test_clean_data_has_no_anomalies():
    assert _anomalies(CLEAN, CLEAN) == {}


def test_out_of_range_and_nan_ratings_are_anomalies():
    bad = CLEAN.assign(rating=[0.0, 4.0, 7.0])
    assert "rating" in _anomalies(bad, bad)  # even when the schema was inferred from it
    nan = CLEAN.assign(rating=[1.0, float("nan"), 3.0])
    assert "rating" in _anomalies(nan, CLEAN)


def test_integer_ratings_get_an_integer_domain():
    schema = schema_pb2.Schema()
    schema.feature.add(name="rating", type=schema_pb2.INT)
    curated, _ = curate(schema, Constraints.for_data("d", True, 0.5, 5))
    assert (curated.feature[0].int_domain.min, curated.feature[0].int_domain.max) == (1, 5)


def test_schema_level_problems_name_the_column():
    schema = schema_pb2.Schema()
    schema.feature.add(name="user_id", type=schema_pb2.BYTES)
    schema.feature.add(name="rating", type=schema_pb2.BYTES)
    _, problems = curate(schema, CONSTRAINTS)
    assert problems == ["column item_id: missing from the data",
                        "column rating: holds values that are not numbers"]
    implicit = Constraints.for_data("d", has_ratings=False, rating_min=1, rating_max=5)
    assert curate(schema, implicit)[1] == ["column item_id: missing from the data"]


def test_a_row_without_a_user_id_is_an_anomaly():
    missing = CLEAN.assign(user_id=["u1", None, "u3"])
    assert "user_id" in _anomalies(missing, missing)
