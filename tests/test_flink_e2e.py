"""The sample on a standalone Flink cluster gives the in-memory run's answer.

`mtrec run --set beam_runner="flink"` starts a cluster of its own (a
JobManager, two TaskManagers and the Python worker pool, each a separate
process), runs every Beam step on it, and stops it. Against the session's
in-memory run of the same sample: the same records in each split, identical
vocabularies, and metrics within the determinism tolerance. `mtrec flink
setup` (Flink from PyPI, the job server built with Maven) runs first; it is
skipped when its results are already in the cache.
"""

import os
import subprocess
import sys

import pytest
from runner_parity import assert_same_answer

from mtrec.pipeline.config import load_config
from mtrec.pipeline.runners import flink_cluster

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")


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
    assert_same_answer(root / "pipeline", sample_run.pipeline_root)
