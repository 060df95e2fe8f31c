"""The pipeline on the DirectRunner's worker processes (`beam_mode =
"multi_processing"`, pipeline/runners/beam_options.py). Its data components run in worker
processes that import Beam, the Google client libraries and TensorFlow on
their own: the sample must run through to a pushed model, and the workers
print neither the client libraries' Python-version warnings (pipeline/runtime/env.py)
nor 'Exception ignored in AtomicFunction.__del__' tracebacks as they exit
(pipeline/runtime/beam_worker_plugin.py)."""

import os
import subprocess
import sys

import pytest

from mtrec.pipeline.runtime.env import PYTHON_VERSION_WARNING
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")


def test_a_multi_processing_run_pushes_and_its_workers_print_no_noise(tmp_path):
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
