"""What a pipeline run produced, read back from ML Metadata.

TFX already records every execution, its state (run or cached) and its output
artifacts; this module turns that lineage into a `RunResult`: per-component
times, the evaluation table with thresholds and baseline, the gate's decision
and the pushed version.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from typing import Any, Dict, List, Optional

from google.protobuf import json_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from mtrec.components.split_example_gen import SPLIT_PROPERTY

_STATES = {metadata_store_pb2.Execution.COMPLETE: "ran",
           metadata_store_pb2.Execution.CACHED: "cached",
           metadata_store_pb2.Execution.FAILED: "failed",
           metadata_store_pb2.Execution.RUNNING: "running",
           metadata_store_pb2.Execution.NEW: "new",
           metadata_store_pb2.Execution.CANCELED: "canceled"}


@dataclasses.dataclass
class ComponentRun:
    component: str
    state: str  # ran | cached | failed | ...
    seconds: float


@dataclasses.dataclass
class MetricRow:
    name: str
    value: float
    baseline: Optional[float]  # the last blessed model's value, when there was one
    threshold: str  # e.g. ">= 0.6; Δ >= -0.02" (Δ: change vs baseline), "" if not gated
    passed: Optional[bool]  # None when the metric is not gated


@dataclasses.dataclass
class RunResult:
    run_id: str
    components: List[ComponentRun]
    metrics: List[MetricRow]
    blessed: Optional[bool]  # None if the Evaluator did not run
    gate_failures: List[str]
    pushed_path: Optional[str]
    push_refused: Optional[str] = None  # why a blessed model was not pushed
    split: Optional[Dict[str, Any]] = None  # the train/eval split policy ExampleGen applied
    # "<component>.<output>" (e.g. "CsvExampleGen.examples", "Trainer.model") -> artifact URI
    artifact_uris: Dict[str, str] = dataclasses.field(default_factory=dict)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"no ML Metadata database at {metadata_path}: no run has "
                                "used this pipeline root yet")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _threshold_text(threshold) -> str:
    parts = []
    value = threshold.value_threshold
    if value.HasField("lower_bound"):
        parts.append(f">= {value.lower_bound.value:g}")
    if value.HasField("upper_bound"):
        parts.append(f"<= {value.upper_bound.value:g}")
    change = threshold.change_threshold
    if change.HasField("absolute"):
        parts.append(f"Δ {'>=' if change.absolute.value < 0 else '<='} "
                     f"{change.absolute.value:+g}")
    return "; ".join(parts)


def _thresholds(evaluation_uri: str) -> Dict[str, str]:
    """metric name -> threshold text, from the eval config the Evaluator saved."""
    import tensorflow_model_analysis as tfma

    with open(os.path.join(evaluation_uri, "eval_config.json")) as handle:
        eval_config = json_format.ParseDict(json.load(handle)["evalConfig"], tfma.EvalConfig())
    thresholds = {}
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.HasField("threshold"):
                name = json.loads(metric.config or "{}").get("name", metric.class_name)
                thresholds[name] = _threshold_text(metric.threshold)
    return thresholds


def read_evaluation(evaluation_uri: str) -> tuple[List[MetricRow], List[str]]:
    """The overall-slice metrics table and the gate's failure messages."""
    import tensorflow_model_analysis as tfma

    candidate: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for item in metrics.metric_keys_and_values:
            if item.key.is_diff:
                continue
            target = baseline if item.key.model_name == "baseline" else candidate
            target[item.key.name] = item.value.double_value.value
    validation = tfma.load_validation_result(evaluation_uri)
    failed = {}
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            key = failure.metric_key
            label = key.name + (" (change vs baseline)" if key.is_diff else "")
            failed[key.name] = (f"{label} = {failure.metric_value.double_value.value:.4f} "
                                f"fails {_threshold_text(failure.metric_threshold)}")
    thresholds = _thresholds(evaluation_uri)
    rows = [MetricRow(name=name, value=value, baseline=baseline.get(name),
                      threshold=thresholds.get(name, ""),
                      passed=(name not in failed) if name in thresholds else None)
            for name, value in candidate.items() if not math.isnan(value) or name in thresholds]
    return rows, list(failed.values())


def read_run(metadata_path: str, run_id: Optional[str] = None) -> RunResult:
    """The latest run in `metadata_path` (or the run named `run_id`)."""
    store = open_store(metadata_path)
    runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    if run_id is not None:
        runs = [run for run in runs if run.name == run_id]
    if not runs:
        raise LookupError(f"no run {run_id or ''} recorded in {metadata_path}")
    run = runs[-1]
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    components: List[ComponentRun] = []
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    artifact_uris: Dict[str, str] = {}
    types = {t.id: t.name for t in store.get_artifact_types()}
    for execution in executions:
        node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node")
        component = node.split(".", 1)[1]
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        components.append(ComponentRun(component, _STATES.get(execution.last_known_state, "unknown"),
                                       seconds))
        events = [e for e in store.get_events_by_execution_ids([execution.id])
                  if e.type == metadata_store_pb2.Event.OUTPUT]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        for event in events:
            artifact = artifacts[event.artifact_id]
            outputs.setdefault(types[artifact.type_id], []).append(artifact)
            artifact_uris[f"{component}.{event.path.steps[0].key}"] = artifact.uri

    metrics, failures, blessed, pushed_path, refused = [], [], None, None, None
    if "ModelEvaluation" in outputs:
        metrics, failures = read_evaluation(outputs["ModelEvaluation"][-1].uri)
    if "ModelBlessing" in outputs:
        blessed = bool(outputs["ModelBlessing"][-1].custom_properties["blessed"].int_value)
    for pushed in outputs.get("PushedModel", []):
        if pushed.custom_properties["pushed"].int_value:
            pushed_path = pushed.custom_properties["pushed_destination"].string_value
        elif "refused_reason" in pushed.custom_properties:
            refused = pushed.custom_properties["refused_reason"].string_value
    split = None
    for examples in outputs.get("Examples", []):
        if SPLIT_PROPERTY in examples.custom_properties:
            split = json.loads(examples.custom_properties[SPLIT_PROPERTY].string_value)
    return RunResult(run.name, components, metrics, blessed, failures, pushed_path, refused, split,
                     artifact_uris)


def describe_split(split: Dict[str, Any]) -> str:
    """One line, e.g. 'random: 20% held out (seed 42)'."""
    method = split["method"]
    if method == "random":
        return f"random: {split['eval_fraction']:.0%} held out (seed {split['seed']})"
    if method == "time":
        cutoff = datetime.datetime.fromtimestamp(split["cutoff"], datetime.timezone.utc)
        return f"time: interactions from {cutoff:%Y-%m-%d %H:%M:%S} UTC on held out"
    return f"last_n: each user's newest {split['eval_per_user']} held out"
