"""The pipeline on the DirectRunner's worker processes (`beam_mode =
"multi_processing"`, pipeline/runners/beam_options.py). Its data components run in worker
processes that import Beam, the Google client libraries and TensorFlow on
their own: the sample must run through to a pushed model, and the workers
print neither the client libraries' Python-version warnings (pipeline/runtime/env.py)
nor 'Exception ignored in AtomicFunction.__del__' tracebacks as they exit
(pipeline/runtime/beam_worker_plugin.py). It gives the in-memory run's answer
(tests/runner_parity.py)."""

import os
import subprocess
import sys

import pytest
from runner_parity import assert_same_answer

from mtrec.pipeline.runtime.env import PYTHON_VERSION_WARNING
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")


def test_a_multi_processing_run_pushes_gives_the_in_memory_answer_and_prints_no_noise(
        tmp_path, sample_run):
    shell = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # as a user's
    completed = subprocess.run(
        [MTREC, "run", "--pipeline-root", str(tmp_path / "root"), "--serving-dir",
         str(tmp_path / "serving"), "--set", "beam_mode=multi_processing"],
        env=shell, capture_output=True, text=True, timeout=900)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert len(published_versions(str(tmp_path / "serving" / "recommender"))) == 1
    for noise in ("Traceback", "Exception ignored", PYTHON_VERSION_WARNING):
        assert noise not in output, output[-3000:]
    assert sample_run.exit_code == 0, sample_run.output[-3000:]
    assert_same_answer(tmp_path / "root", sample_run.pipeline_root)
