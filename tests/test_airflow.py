"""Airflow: a real Airflow 2.10 runs the DAG end to end with `airflow dags test`,
SQLite metadata in a temporary AIRFLOW_HOME, and the model gets pushed; and over
three logical dates, a new span arriving before each, it retrains warm and
refuses a drifted span."""

import os
import shutil
import subprocess
import sys

import pytest
from span_data import write_spans

from mtrec.pipeline.config import metadata_path
from mtrec.pipeline.runs.results import list_runs, open_store, read_run
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _airflow(args, env, timeout):
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _airflow_home(tmp_path, data: str = "", model: str = "") -> dict:
    """A dags folder with the DAG file, a config, and the environment that points
    Airflow (a migrated SQLite database) and the DAG at them."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(os.path.join(REPO, "pipeline", "runners", "airflow_dag.py"), dags / "mtrec_dag.py")
    config = tmp_path / "mtrec.toml"
    config.write_text(f'pipeline_name = "mtrec_airflow"\npipeline_root = "{tmp_path / "pipeline"}"\n'
                      f'[serving]\nserving_dir = "{tmp_path / "serving"}"\n'
                      f'[airflow]\nschedule = ""\n'
                      f'[data]\n{data}'
                      # The orchestration is under test, not the model: 3 epochs
                      # and a bound they reach (as in test_serving_http).
                      f'[model]\nepochs = 3\n{model}[gate]\nmin_top_k_accuracy = 0.3\n'
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
    return env


def test_airflow_dag_runs_end_to_end_and_pushes(tmp_path):
    env = _airflow_home(tmp_path)

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


def test_airflow_retrains_on_each_new_span_warm_and_refuses_a_drifted_one(tmp_path):
    arriving, ratings = tmp_path / "arriving", tmp_path / "ratings"
    write_spans(arriving)
    ratings.mkdir()
    env = _airflow_home(tmp_path, data=f'ratings_dir = "{ratings}"\n'
                                       f'file_pattern = "span-{{SPAN}}/*.csv"\nwindow_spans = 2\n',
                        model="warm_start = true\nwarm_start_epochs = 2\n")
    serving = str(tmp_path / "serving" / "recommender")
    days = []
    for day in (1, 2, 3):
        os.rename(arriving / f"span-{day}", ratings / f"span-{day}")
        run = _airflow(["dags", "test", "mtrec_airflow", f"2026-01-0{day}"], env, timeout=1200)
        days.append((run, published_versions(serving)))
    (first, after_first), (second, after_second), (third, after_third) = days
    for run in (first, second):
        assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    assert len(after_first) == 1 and len(after_second) == 2
    # Day 3's ratings all moved to 1: the drift check stops it; day 2's model stays served.
    assert third.returncode != 0
    assert ("column rating (train split): Jensen-Shannon divergence 1 from span 2, the "
            "previous accepted one, above drift.max_rating_drift = 0.1") in third.stdout + third.stderr
    assert after_third == after_second

    listing = subprocess.run([os.path.join(os.path.dirname(sys.executable), "mtrec"), "runs",
                              "--pipeline-root", str(tmp_path / "pipeline")],
                             capture_output=True, text=True, timeout=300,
                             env=dict(env, COLUMNS="200"))
    assert listing.returncode == 0, listing.stderr
    run_ids = list_runs(metadata_path(str(tmp_path / "pipeline")))
    assert len(run_ids) == 3, run_ids
    lines = [next(line.split() for line in listing.stdout.splitlines() if line.startswith(run_id))
             for run_id in run_ids]
    assert [line[1] for line in lines] == ["1", "2,1", "3"], listing.stdout
    # Day 2 started from day 1's model.
    store = open_store(metadata_path(str(tmp_path / "pipeline")))
    models = sorted(store.get_artifacts_by_type("Model"), key=lambda model: model.id)
    assert len(models) == 2
    second_run = read_run(metadata_path(str(tmp_path / "pipeline")), run_ids[1])
    warm = second_run.training_history()["warm_start"]
    assert warm["base_model"].startswith(models[0].uri) and warm["users_carried"] > 0
