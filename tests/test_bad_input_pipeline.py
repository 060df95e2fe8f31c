"""Bad data that reaches the pipeline: the ExampleValidator stops the run before
Transform, and nothing is pushed.

The checks before a run (tests/test_input_checks.py) stop local files first;
this is what guards data they cannot read (remote storage, runs started by
Kubeflow or Airflow). One tiny real pipeline run, started without those
checks, on a file that also holds ids with unicode, commas and 1,000
characters, and duplicate (user, item) rows.
"""

from __future__ import annotations

import csv
import glob
import os

import pytest
import tensorflow as tf

from mtrec.components.validation import DataAnomaliesError
from mtrec.pipeline.config import load_config
from mtrec.pipeline.runners.local import run_local
from mtrec.pipeline.runs.results import open_store, read_run
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

LONG_ID = "x" * 1000
ROWS = (
    [("u%d" % (i % 5), "i%d" % i, 1 + i % 5, 1000 + i) for i in range(30)]
    + [("ユーザー", "Crouching Tiger, Hidden Dragon (2000)", 4, 2000),
       ("u1", LONG_ID, 3, 2001),
       ("u1", "i1", 2, 500),  # a duplicate of ("u1", "i1", 2, 1001), older: dropped
       ("u2", "i2", 5, 9000),  # a duplicate of ("u2", "i2", 3, 1002), newer: kept
       ("u3", "i99", 7, 3000)]  # 7 on a 0.5-5 scale
)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_input")
    (folder / "data").mkdir()
    with open(folder / "data" / "ratings.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        writer.writerows(ROWS)
    config = load_config(overrides={
        "data.ratings_dir": str(folder / "data"), "data.items_file": "",
        "pipeline_root": str(folder / "pipeline"), "serving.serving_dir": str(folder / "serving")})
    with pytest.raises(DataAnomaliesError) as error:
        run_local(config)
    return folder, config, str(error.value)


def test_an_out_of_range_rating_stops_the_run_at_the_validator(stopped):
    folder, config, message = stopped
    assert str(folder / "data") in message
    assert "column rating" in message and "nothing was trained or pushed" in message
    assert "\n" not in message
    states = {c.component: c.state for c in read_run(config.metadata_path).components}
    assert states["ExampleValidator"] == "failed"
    assert states["CsvExampleGen"] == states["SchemaGen"] == "ran"
    assert "Transform" not in states and "Trainer" not in states and "Pusher" not in states
    assert published_versions(str(folder / "serving" / "recommender")) == []


def _examples(config) -> dict:
    store = open_store(config.metadata_path)
    (examples,) = store.get_artifacts_by_type("Examples")
    rows = {}
    for path in glob.glob(os.path.join(examples.uri, "Split-*", "*.gz")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            key = (feature["user_id"].bytes_list.value[0].decode(),
                   feature["item_id"].bytes_list.value[0].decode())
            rows.setdefault(key, []).append(
                (feature["rating"].int64_list.value[0], feature["timestamp"].int64_list.value[0]))
    return rows, examples.custom_properties["duplicates_dropped"].int_value


def test_duplicates_keep_the_latest_row_and_odd_ids_arrive_intact(stopped):
    _, config, _ = stopped
    rows, dropped = _examples(config)
    assert dropped == 2
    assert len(rows) == len(ROWS) - 2 and all(len(v) == 1 for v in rows.values())
    assert rows[("u1", "i1")] == [(2, 1001)] and rows[("u2", "i2")] == [(5, 9000)]
    assert ("ユーザー", "Crouching Tiger, Hidden Dragon (2000)") in rows
    assert ("u1", LONG_ID) in rows
