"""The mtrec pipeline as an Airflow DAG: copy this file into Airflow's dags folder.

Settings come from the TOML file named by the MTREC_CONFIG environment
variable (the defaults, i.e. the embedded sample, without one); its
[airflow] section sets the schedule and start date, and `pipeline_name` is
the DAG id. Parsing imports TFX to build the DAG, which is slow but fits
within Airflow's default dagbag_import_timeout (measured: docs/benchmarks.md).
"""

import os

from mtrec.pipeline.runners.airflow import create_airflow_dag

DAG = create_airflow_dag(os.environ.get("MTREC_CONFIG"))
