"""The mtrec pipeline as an Airflow DAG: copy this file into Airflow's dags folder.

Settings come from the TOML file named by the MTREC_CONFIG environment
variable (the defaults, i.e. the embedded sample, without one); its
[airflow] section sets the schedule and start date, and `pipeline_name` is
the DAG id. Parsing imports TFX to build the DAG (about 13 s on 2 cores,
under Airflow's default 30 s dagbag_import_timeout).
"""

import os

from mtrec.pipeline.airflow_runner import create_airflow_dag

DAG = create_airflow_dag(os.environ.get("MTREC_CONFIG"))
