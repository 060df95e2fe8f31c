"""Airflow: a real Airflow 2.10 runs the DAG end to end with `airflow dags test`,
SQLite metadata in a temporary AIRFLOW_HOME, and the model gets pushed."""

import os
import shutil
import subprocess
import sys

import pytest

from mtrec.pipeline.config import metadata_path
from mtrec.pipeline.runs.results import open_store
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _airflow(args, env, timeout):
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_airflow_dag_runs_end_to_end_and_pushes(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(os.path.join(REPO, "pipeline", "runners", "airflow_dag.py"), dags / "mtrec_dag.py")
    config = tmp_path / "mtrec.toml"
    config.write_text(f'pipeline_name = "mtrec_airflow"\npipeline_root = "{tmp_path / "pipeline"}"\n'
                      f'[serving]\nserving_dir = "{tmp_path / "serving"}"\n'
                      f'[airflow]\nschedule = ""\n'
                      # The orchestration is under test, not the model: 3 epochs
                      # and a bound they reach (as in test_serving_http).
                      f'[model]\nepochs = 3\n[gate]\nmin_top_k_accuracy = 0.3\n'
                      # and the naive baselines' margins opened
                      f'min_lift_over_most_popular = -0.99\nmin_rmse_gain_over_biases = -0.99\n')
    env = dict(os.environ,
               AIRFLOW_HOME=str(tmp_path / "home"),
               AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="120",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
               MTREC_CONFIG=str(config))
    migrate = _airflow(["db", "migrate"], env, timeout=300)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    tasks = _airflow(["tasks", "list", "mtrec_airflow"], env, timeout=300)
    assert tasks.returncode == 0, tasks.stdout + tasks.stderr
    for task in ("CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"):
        assert task in tasks.stdout

    run = _airflow(["dags", "test", "mtrec_airflow", "2026-01-01"], env, timeout=1200)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    assert "state=success" in run.stdout + run.stderr

    assert len(published_versions(str(tmp_path / "serving" / "recommender"))) == 1
    store = open_store(metadata_path(str(tmp_path / "pipeline")))
    (blessing,) = store.get_artifacts_by_type("ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 1
    (pushed,) = store.get_artifacts_by_type("PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
