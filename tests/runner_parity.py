"""The same answer on every Beam runner: what a run on another runner must
share with the session's in-memory sample run (tests/conftest.py `sample_run`).

The same records in each split, identical vocabularies, and metrics within
the determinism tolerance. Used by the Flink and multi-processing tests.
"""

import glob
import os

import pytest
import tensorflow as tf

from mtrec.pipeline.config import metadata_path
from mtrec.pipeline.runs.results import list_runs, read_run

DETERMINISM_TOLERANCE = 1e-3


def _records(pipeline_root, split: str) -> list:
    (examples,) = glob.glob(os.path.join(pipeline_root, "CsvExampleGen", "examples", "*"))
    files = sorted(glob.glob(os.path.join(examples, f"Split-{split}", "*.gz")))
    return sorted(r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _vocabularies(pipeline_root) -> dict:
    (graph,) = glob.glob(os.path.join(pipeline_root, "Transform", "transform_graph", "*"))
    folder = os.path.join(graph, "transform_fn", "assets")
    return {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}


def _first_run_metrics(pipeline_root) -> dict:
    """The metrics of the root's first run (other tests add runs to the session's)."""
    path = metadata_path(str(pipeline_root))
    return {m.name: m.value for m in read_run(path, list_runs(path)[0]).metrics}


def assert_same_answer(pipeline_root, in_memory_root) -> None:
    """`pipeline_root`'s first run gave the in-memory run's records, vocabularies
    and metrics."""
    for split in ("train", "eval"):
        assert _records(pipeline_root, split) == _records(in_memory_root, split), split
    ours, theirs = _vocabularies(pipeline_root), _vocabularies(in_memory_root)
    assert set(ours) >= {"user_id", "item_id"} and ours == theirs
    other, in_memory = _first_run_metrics(pipeline_root), _first_run_metrics(in_memory_root)
    assert set(other) == set(in_memory)
    for name, value in in_memory.items():
        assert other[name] == pytest.approx(value, abs=DETERMINISM_TOLERANCE), name
