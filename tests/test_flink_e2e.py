"""The sample on a standalone Flink cluster gives the in-memory run's answer.

`mtrec run --set beam_runner="flink"` starts a cluster of its own (a
JobManager, two TaskManagers and the Python worker pool, each a separate
process), runs every Beam step on it, and stops it. Against the session's
in-memory run of the same sample: the same records in each split, identical
vocabularies, and metrics within the determinism tolerance. `mtrec flink
setup` (Flink from PyPI, the job server built with Maven) runs first; it is
skipped when its results are already in the cache.
"""

import glob
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from mtrec.pipeline.config import load_config, metadata_path
from mtrec.pipeline.runners import flink_cluster
from mtrec.pipeline.runs.results import list_runs, read_run

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")
DETERMINISM_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def flink_run(tmp_path_factory):
    setup = subprocess.run([MTREC, "flink", "setup"], capture_output=True, text=True)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    spec = flink_cluster.spec_for(load_config().flink)
    assert flink_cluster.overview(spec) is None, "a Flink cluster is already running"
    root = tmp_path_factory.mktemp("flink")
    run = subprocess.run([MTREC, "run", "--pipeline-root", str(root / "pipeline"),
                          "--serving-dir", str(root / "serving"), "--set", 'beam_runner="flink"'],
                         capture_output=True, text=True, timeout=1200)
    return root, run


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


def test_the_run_on_flink_is_blessed_and_stops_its_cluster(flink_run):
    root, run = flink_run
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    assert "starting a Flink cluster on localhost:8081 (2 TaskManagers" in run.stdout
    assert "stopped the Flink cluster started for the run" in run.stdout
    assert flink_cluster.overview(flink_cluster.spec_for(load_config().flink)) is None
    assert "Traceback" not in run.stdout + run.stderr


def test_flink_gives_the_in_memory_records_vocabularies_and_metrics(flink_run, sample_run):
    root, run = flink_run
    assert run.returncode == 0 and sample_run.exit_code == 0
    for split in ("train", "eval"):
        assert _records(root / "pipeline", split) == _records(sample_run.pipeline_root, split)
    ours, theirs = _vocabularies(root / "pipeline"), _vocabularies(sample_run.pipeline_root)
    assert set(ours) >= {"user_id", "item_id"} and ours == theirs
    on_flink, in_memory = (_first_run_metrics(root / "pipeline"),
                           _first_run_metrics(sample_run.pipeline_root))
    assert set(on_flink) == set(in_memory)
    for name, value in in_memory.items():
        assert on_flink[name] == pytest.approx(value, abs=DETERMINISM_TOLERANCE), name
