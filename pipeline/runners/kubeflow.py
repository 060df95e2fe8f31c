"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

KubeflowV2DagRunner writes a PipelineJob JSON (a KFP PipelineSpec plus the
runtime config); no cluster is needed to compile. Every component runs in
`kubeflow.image`, built from the repository's Dockerfile, and ML Metadata is
the orchestrator's. Paths in the config (data, pipeline root, serving
directory) must be reachable from the cluster, e.g. gs:// URIs.

Kubeflow V2 compiles only TFX's own resolver strategies, so the span window
and the drift check (components/span_window.py) are left out: a span spec in
the file pattern still makes each run read the newest span, and it trains and
evaluates on that span alone; `data.window_spans` above 1 is refused. A warm
start there begins from TFX's latest blessed model, so an unchanged re-run
trains again.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx

from mtrec.pipeline.config import Config, ConfigError
from mtrec.pipeline.pipeline import create_pipeline


def compile_kubeflow(config: Config, output_path: str) -> str:
    """Writes the PipelineJob JSON for `config` to `output_path`; returns the path."""
    if config.data.window_spans > 1:
        raise ConfigError(f"data.window_spans: Kubeflow V2 runs each span alone (its compiler "
                          f"takes only TFX's own resolvers), got {config.data.window_spans}; "
                          f"set it to 1, or run on the local or Airflow runner")
    directory, filename = os.path.split(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            display_name=config.pipeline_name, default_image=config.kubeflow.image),
        output_dir=directory, output_filename=filename)
    runner.run(create_pipeline(config, metadata_connection_config=None,
                               baseline_excludes_candidate=False, custom_strategies=False),
               write_out=True)
    return os.path.join(directory, filename)
