"""Runs the pipeline locally with LocalDagRunner, ML Metadata in SQLite."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib

from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.metadata import sqlite_metadata_connection_config

from mtrec.pipeline.runners import beam_options, flink_cluster
from mtrec.pipeline.runtime import beam_keepalive
from mtrec.pipeline.config import Config
from mtrec.pipeline.pipeline import create_pipeline


def _absolute(path: str) -> str:
    """Local paths become absolute (TFX records them in ML Metadata); URIs stay."""
    return path if (not path or "://" in path) else str(pathlib.Path(path).resolve())


def localize(config: Config) -> Config:
    """A copy of `config` with every local path absolute."""
    return dataclasses.replace(
        config,
        pipeline_root=_absolute(config.pipeline_root),
        data=dataclasses.replace(config.data, ratings_dir=_absolute(config.data.ratings_dir),
                                 items_file=_absolute(config.data.items_file)),
        serving=dataclasses.replace(config.serving, serving_dir=_absolute(config.serving.serving_dir)),
    )


def run_local(config: Config) -> Config:
    """Runs the whole pipeline to completion; returns the config it ran with."""
    config = localize(config)
    config = dataclasses.replace(config, beam_args=beam_options.beam_args(config))
    os.makedirs(config.pipeline_root, exist_ok=True)
    metadata = sqlite_metadata_connection_config(config.metadata_path)
    cluster = (flink_cluster.cluster_for_run(config.flink) if config.beam_runner == "flink"
               else contextlib.nullcontext())
    with cluster:
        try:
            LocalDagRunner().run(create_pipeline(config, metadata))
        finally:
            beam_keepalive.release()  # or the run ends with TensorFlow tracebacks
    return config
