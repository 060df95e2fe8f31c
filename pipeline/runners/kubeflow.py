"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

KubeflowV2DagRunner writes a PipelineJob JSON (a KFP PipelineSpec plus the
runtime config); no cluster is needed to compile. Every component runs in
`kubeflow.image`, built from the repository's Dockerfile, and ML Metadata is
the orchestrator's. Paths in the config (data, pipeline root, serving
directory) must be reachable from the cluster, e.g. gs:// URIs.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx

from mtrec.pipeline.config import Config
from mtrec.pipeline.pipeline import create_pipeline


def compile_kubeflow(config: Config, output_path: str) -> str:
    """Writes the PipelineJob JSON for `config` to `output_path`; returns the path."""
    directory, filename = os.path.split(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            display_name=config.pipeline_name, default_image=config.kubeflow.image),
        output_dir=directory, output_filename=filename)
    runner.run(create_pipeline(config, metadata_connection_config=None,
                               baseline_excludes_candidate=False), write_out=True)
    return os.path.join(directory, filename)
