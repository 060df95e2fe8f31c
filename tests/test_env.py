"""The process environment every entry point sets (pipeline/runtime/env.py)."""

import os
import subprocess
import sys

from mtrec.pipeline.runtime import env

QUIET = f"ignore:{env.PYTHON_VERSION_WARNING}:FutureWarning"


def _import_google_api_core(environ: dict) -> str:
    child = subprocess.run([sys.executable, "-c", "import google.api_core"], env=environ,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    return child.stderr


def test_child_processes_inherit_the_python_version_warning_filter(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "default::DeprecationWarning")
    env.configure()
    env.configure()  # idempotent
    # The user's own filters stay, after ours, so that they take precedence.
    assert os.environ["PYTHONWARNINGS"] == f"{QUIET},default::DeprecationWarning"

    unfiltered = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    assert env.PYTHON_VERSION_WARNING in _import_google_api_core(unfiltered)
    assert env.PYTHON_VERSION_WARNING not in _import_google_api_core(dict(os.environ))
