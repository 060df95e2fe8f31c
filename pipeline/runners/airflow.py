"""Builds the pipeline as an Apache Airflow DAG (TFX's AirflowDagRunner).

AirflowDagRunner lives in tfx.orchestration.airflow (not in tfx.v1). It does
not honour tfx.dsl.Cond; the gate does not need it, since the Pusher checks
the blessing it takes as input. ML Metadata is SQLite under the pipeline root,
as for the local runner, so `mtrec runs`-style tools read both alike.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional

from mtrec.pipeline.runners import beam_options
from mtrec.pipeline.config import load_config
from mtrec.pipeline.runners.local import localize


def create_airflow_dag(config_path: Optional[str] = None):
    """The airflow.DAG for the config at `config_path` (defaults without one)."""
    from tfx.orchestration.airflow.airflow_dag_runner import (AirflowDagRunner,
                                                              AirflowPipelineConfig)
    from tfx.orchestration.metadata import sqlite_metadata_connection_config

    from mtrec.pipeline.pipeline import create_pipeline

    config = localize(load_config(config_path))
    config = dataclasses.replace(config, beam_args=beam_options.beam_args(config))
    airflow_config = {
        "schedule_interval": config.airflow.schedule or None,
        "start_date": datetime.datetime.fromisoformat(config.airflow.start_date),
        "catchup": False,
    }
    metadata = sqlite_metadata_connection_config(config.metadata_path)
    # Airflow's launchers resolve a Resolver's inputs across every run of the
    # pipeline, so the candidate channel would hold every model the Trainer
    # ever made: keep TFX's built-in resolver (components/baseline_resolver.py).
    return AirflowDagRunner(AirflowPipelineConfig(airflow_config)).run(
        create_pipeline(config, metadata, baseline_excludes_candidate=False))
