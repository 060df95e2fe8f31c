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
from mtrec.components.validation import DRIFT_ACCEPTED_PROPERTY

# Output artifacts by "<component>.<output key>" (RunResult.artifact_uris).
EXAMPLES = "CsvExampleGen.examples"
STATISTICS = "StatisticsGen.statistics"
ANOMALIES = "ExampleValidator.anomalies"
MODEL = "Trainer.model"
MODEL_RUN = "Trainer.model_run"
EVALUATION = "Evaluator.evaluation"

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


# Metrics that are counts, shown without decimals.
INTEGER_METRICS = ("example_count", "corpus_size", "gated_k")


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
    started: float = 0.0  # unix seconds the run was recorded
    data: List["SplitCounts"] = dataclasses.field(default_factory=list)
    anomalies: List[str] = dataclasses.field(default_factory=list)  # "split: feature: what"
    exec_properties: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    gate_note: str = ""  # e.g. why the gated K is not the configured one
    span_read: Optional[int] = None  # the span ExampleGen read (0: no span spec)
    spans_used: List[int] = dataclasses.field(default_factory=list)  # Transform's, newest first
    drift_accepted: str = ""  # the drift an operator let through, as the validator saw it

    @property
    def uses_spans(self) -> bool:
        return bool(self.span_read) or len(self.spans_used) > 1

    def spans_text(self) -> str:
        """e.g. 'read span 3; trained and evaluated on spans 3, 2', or '' without spans."""
        if not self.uses_spans:
            return ""
        text = f"read span {self.span_read}"
        if self.spans_used:
            used = ", ".join(str(span) for span in self.spans_used)
            return f"{text}; trained and evaluated on span{'s' * (len(self.spans_used) > 1)} {used}"
        return f"{text}; nothing trained on it"

    @property
    def seconds(self) -> float:
        """The components' times added up (the run's wall time is a little longer)."""
        return sum(c.seconds for c in self.components)

    @property
    def pushed_version(self) -> Optional[str]:
        return os.path.basename(self.pushed_path.rstrip("/")) if self.pushed_path else None

    @property
    def tensorboard_dir(self) -> Optional[str]:
        """The Trainer's TensorBoard logs (its ModelRun artifact)."""
        return self.artifact_uris.get(MODEL_RUN)

    def training_history(self) -> Dict[str, Any]:
        """The Trainer's training_history.json (epochs, per-epoch losses, seconds
        per phase); empty when the run has none."""
        import tensorflow as tf

        uri = self.artifact_uris.get(MODEL_RUN)
        path = uri and os.path.join(uri, "training_history.json")
        if not path or not tf.io.gfile.exists(path):
            return {}
        with tf.io.gfile.GFile(path) as handle:
            return json.load(handle)


@dataclasses.dataclass
class SplitCounts:
    """One split's size from StatisticsGen; users/items None where TFDV has no unique count."""

    split: str
    interactions: int
    users: Optional[int]
    items: Optional[int]


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


def _gate(evaluation_uri: str) -> tuple[Dict[str, str], Optional[int]]:
    """metric name -> threshold text, and the configured gate K (None before it was
    recorded), from the eval config the Evaluator saved."""
    import tensorflow_model_analysis as tfma

    from mtrec.pipeline.gate import gate_thresholds

    with open(os.path.join(evaluation_uri, "eval_config.json")) as handle:
        eval_config = json_format.ParseDict(json.load(handle)["evalConfig"], tfma.EvalConfig())
    configured_k = None
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == "RecommenderMetrics":
                configured_k = json.loads(metric.config or "{}").get("gate_k")
    return ({name: _threshold_text(threshold)
             for name, threshold in gate_thresholds(eval_config).items()}, configured_k)


def read_evaluation(evaluation_uri: str) -> tuple[List[MetricRow], List[str], str]:
    """The overall-slice metrics table, the gate's failure messages, and its note
    on the gated K ("" when it is the configured one)."""
    import tensorflow_model_analysis as tfma

    from mtrec.components.boundary_counts import overall_metrics

    candidate, baseline = overall_metrics(evaluation_uri)
    validation = tfma.load_validation_result(evaluation_uri)
    thresholds, configured_k = _gate(evaluation_uri)
    failed = {}
    for per_slice in validation.metric_validations_per_slice:
        where = ", ".join(f"{k.column}={k.bytes_value.decode() or k.int64_value or k.float_value}"
                          for k in per_slice.slice_key.single_slice_keys)
        for failure in per_slice.failures:
            key = failure.metric_key
            label = key.name + (" (change vs baseline)" if key.is_diff else "") + (
                f" on slice {where}" if where else "")
            threshold = _threshold_text(failure.metric_threshold)
            reason = "" if key.is_diff or where else gate_reason(key.name, candidate, threshold,
                                                                 configured_k)
            failed[key.name + where] = reason or (
                f"{label} = {failure.metric_value.double_value.value:.4f} fails {threshold}")
    rows = [MetricRow(name=name, value=value, baseline=baseline.get(name),
                      threshold=thresholds.get(name, ""),
                      # A change threshold alone is dropped on a first run (no baseline).
                      passed=(name not in failed) if thresholds.get(name) else None)
            for name, value in candidate.items()
            if (not math.isnan(value) and _fits_corpus(name, candidate)) or name in thresholds]
    return rows, list(failed.values()), gated_k_note(candidate, configured_k)


def naive_beside(rows: List[MetricRow]) -> List[tuple[MetricRow, Optional[float]]]:
    """The rows to show, each with its naive baseline's value (None for none):
    most-popular's beside each seen-excluded top-K, user + item biases' beside
    RMSE. Those baselines' own rows are left out: their numbers are there."""
    from mtrec.trainer_module import features

    values = {row.name: row.value for row in rows}
    beside = {features.top_k_metric_name(k, True): features.popular_top_k_metric_name(k)
              for k in features.TOP_K_VALUES}
    beside[features.RMSE_METRIC] = features.BIAS_RMSE_METRIC
    folded = {naive for name, naive in beside.items() if name in values}
    return [(row, values.get(beside.get(row.name, ""))) for row in rows
            if row.name not in folded]


def _fits_corpus(name: str, metrics: Dict[str, float]) -> bool:
    """False for a top-K metric whose K is over the share of the corpus the gate
    allows (features.gated_k): top-100 of 40 items is 1.0 by construction."""
    from mtrec.trainer_module.features import CORPUS_SIZE_METRIC, MAX_K_SHARE_OF_CORPUS

    corpus = metrics.get(CORPUS_SIZE_METRIC)
    if "top_" not in name or "_accuracy" not in name or not corpus:
        return True
    k = int(name.split("top_", 1)[1].split("_", 1)[0])
    return k <= corpus * MAX_K_SHARE_OF_CORPUS


def gated_k_note(metrics: Dict[str, float], configured_k: Optional[int]) -> str:
    """A sentence when the gate compared with most-popular at a K below the
    configured one (features.gated_k); "" otherwise."""
    from mtrec.trainer_module import features

    k = metrics.get(features.GATED_K_METRIC)
    if k is None or not configured_k or k >= configured_k:
        return ""
    return (f"Gated K: {k:.0f}, not {configured_k}: the corpus has "
            f"{metrics.get(features.CORPUS_SIZE_METRIC, 0):,.0f} items, and top-{configured_k} "
            f"of a corpus that small is near 1 for any model, so the gate compares with "
            f"most-popular at the largest K within a fifth of it.")


def gate_reason(name: str, metrics: Dict[str, float], threshold: str,
                configured_k: Optional[int] = None) -> str:
    """Why the gate refused on metric `name`, in words, with the numbers beside
    it; "" for a metric the words below do not cover."""
    from mtrec.trainer_module import features

    needs = f"the gate needs {threshold}"
    if name == features.LIFT_METRIC and features.GATED_K_METRIC in metrics:
        k = int(metrics[features.GATED_K_METRIC])
        model = metrics.get(features.top_k_metric_name(k, True), math.nan)
        popular = metrics.get(features.popular_top_k_metric_name(k), math.nan)
        lift = metrics[name]
        where = (f"top-{k} accuracy (seen excluded) {model:.4f} "
                 + (f"is below most-popular's {popular:.4f} (lift {lift:+.1%}; {needs})"
                    if lift < 0 else
                    f"beats most-popular's {popular:.4f} by {lift:+.1%} only; {needs}"))
        if configured_k and k < configured_k:
            where += (f" (K = {k}, not {configured_k}, on a corpus of "
                      f"{metrics.get(features.CORPUS_SIZE_METRIC, 0):,.0f} items)")
        return where
    if name in (features.RMSE_METRIC, features.RMSE_GAIN_METRIC):
        rmse = metrics.get(features.RMSE_METRIC, math.nan)
        worse = [f"{label} ({metrics[metric]:.4f})" for metric, label in (
            (features.MEAN_RMSE_METRIC, "predicting the training mean"),
            (features.BIAS_RMSE_METRIC, "user + item biases"))
            if metrics.get(metric, math.inf) < rmse]
        worse_text = " and than ".join(worse)
        if name == features.RMSE_METRIC:
            return f"rmse {rmse:.4f} fails {threshold}" + (
                f"; it is also worse than {worse_text}" if worse else "")
        gain = metrics[name]
        if worse:
            return f"rmse {rmse:.4f} is worse than {worse_text} (gain {gain:+.1%}; {needs})"
        return (f"rmse {rmse:.4f} beats user + item biases' "
                f"{metrics.get(features.BIAS_RMSE_METRIC, math.nan):.4f} by {gain:+.1%} only; "
                f"{needs}")
    return ""


def split_dirs(uri: str) -> Dict[str, str]:
    """split name -> folder, for TFX's `Split-<name>` layout."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(uri):
        return {}
    return {name.rstrip("/")[len("Split-"):]: os.path.join(uri, name.rstrip("/"))
            for name in sorted(tf.io.gfile.listdir(uri)) if name.startswith("Split-")}


def read_split_counts(statistics_uri: str) -> List[SplitCounts]:
    """Interactions, distinct users and distinct items per split, from TFDV statistics."""
    import tensorflow_data_validation as tfdv

    from mtrec.trainer_module.features import ITEM_ID, USER_ID

    counts = []
    for split, folder in split_dirs(statistics_uri).items():
        dataset = tfdv.load_stats_binary(os.path.join(folder, "FeatureStats.pb")).datasets[0]
        unique = {}
        for feature in dataset.features:
            name = feature.path.step[0] if feature.path.step else feature.name
            if feature.HasField("string_stats"):
                unique[name] = feature.string_stats.unique
        counts.append(SplitCounts(split, dataset.num_examples, unique.get(USER_ID),
                                  unique.get(ITEM_ID)))
    return counts


def read_anomalies(anomalies_uri: str) -> List[str]:
    """ExampleValidator's findings, one line each: 'split: feature: description'."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = []
    for split, folder in split_dirs(anomalies_uri).items():
        for name in tf.io.gfile.listdir(folder):
            if not name.endswith(".pb"):
                continue
            anomalies = anomalies_pb2.Anomalies()
            anomalies.ParseFromString(tf.io.gfile.GFile(os.path.join(folder, name), "rb").read())
            for feature, info in sorted(anomalies.anomaly_info.items()):
                found.append(f"{split}: {feature}: {info.short_description or info.description}")
            if anomalies.HasField("dataset_anomaly_info"):
                info = anomalies.dataset_anomaly_info
                found.append(f"{split}: (dataset): {info.short_description or info.description}")
    return found


def artifact_span(artifact: metadata_store_pb2.Artifact) -> int:
    """An MLMD artifact's span: ExampleGen's custom property, else the `span` property
    (components/span_window.py says why both)."""
    if "span" in artifact.custom_properties:
        return int(artifact.custom_properties["span"].int_value)
    return int(artifact.properties["span"].int_value) if "span" in artifact.properties else 0


def _properties(execution: metadata_store_pb2.Execution) -> Dict[str, Any]:
    """An execution's recorded settings (TFX exec properties), JSON decoded where they are JSON."""
    values = {}
    for name, value in execution.custom_properties.items():
        if name.startswith("__"):
            continue
        raw = value.string_value if value.HasField("string_value") else (
            value.int_value if value.HasField("int_value") else value.double_value)
        if isinstance(raw, str) and raw[:1] in "{[":
            try:
                raw = json.loads(raw)
            except ValueError:
                pass
        values[name] = raw
    return values


# The context each kind of runner records a run as: TFX's IR-based runners (local,
# Kubeflow) a `pipeline_run` named by the run id; its older launchers (Airflow) a
# `run` named "<pipeline>.<run id>", with the run id as a property.
_RUN_CONTEXT_TYPES = ("pipeline_run", "run")
# Their executions' component: a `node` context "<pipeline>.<component>", or (older
# launchers) the `component_id` property.
_LEGACY_STATES = {"complete": "ran", "cached": "cached", "new": "not finished"}


def _run_name(run: metadata_store_pb2.Context) -> str:
    return run.properties["run_id"].string_value if "run_id" in run.properties else run.name


def _runs(store: metadata_store.MetadataStore) -> List[metadata_store_pb2.Context]:
    """Every run context, oldest first."""
    return sorted((run for kind in _RUN_CONTEXT_TYPES for run in store.get_contexts_by_type(kind)),
                  key=lambda run: run.create_time_since_epoch)


def _component_and_state(store: metadata_store.MetadataStore,
                         execution: metadata_store_pb2.Execution) -> tuple[str, str]:
    if "component_id" in execution.properties:  # an older launcher's (Airflow)
        state = execution.properties["state"].string_value if "state" in execution.properties else ""
        return (execution.properties["component_id"].string_value,
                _LEGACY_STATES.get(state, state or "unknown"))
    node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node")
    return node.split(".", 1)[1], _STATES.get(execution.last_known_state, "unknown")


def list_runs(metadata_path: str) -> List[str]:
    """Every run id recorded in `metadata_path`, oldest first (local and Airflow runs)."""
    return [_run_name(run) for run in _runs(open_store(metadata_path))]


def read_run(metadata_path: str, run_id: Optional[str] = None,
             with_details: bool = True) -> RunResult:
    """The latest run in `metadata_path` (or the run named `run_id`).

    `with_details=False` skips the data counts and anomalies (TFDV reads) for
    listings of many runs.
    """
    store = open_store(metadata_path)
    runs = _runs(store)
    if run_id is not None:
        runs = [run for run in runs if _run_name(run) == run_id]
    if not runs:
        raise LookupError(f"no run {run_id or ''} recorded in {metadata_path}")
    run = runs[-1]
    exec_properties: Dict[str, Dict[str, Any]] = {}
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    components: List[ComponentRun] = []
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    artifact_uris: Dict[str, str] = {}
    types = {t.id: t.name for t in store.get_artifact_types()}
    spans_used: List[int] = []
    for execution in executions:
        component, state = _component_and_state(store, execution)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        components.append(ComponentRun(component, state, seconds))
        exec_properties[component] = _properties(execution)
        all_events = store.get_events_by_execution_ids([execution.id])
        events = [e for e in all_events if e.type == metadata_store_pb2.Event.OUTPUT]
        if component == "Transform":  # the span window it read
            read = [e.artifact_id for e in all_events if e.type == metadata_store_pb2.Event.INPUT
                    and e.path.steps and e.path.steps[0].key == "examples"]
            spans_used = sorted((artifact_span(a) for a in store.get_artifacts_by_id(read)),
                                reverse=True)
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        for event in events:
            artifact = artifacts[event.artifact_id]
            outputs.setdefault(types[artifact.type_id], []).append(artifact)
            artifact_uris[f"{component}.{event.path.steps[0].key}"] = artifact.uri

    metrics, failures, blessed, pushed_path, refused, note = [], [], None, None, None, ""
    if "ModelEvaluation" in outputs:
        metrics, failures, note = read_evaluation(outputs["ModelEvaluation"][-1].uri)
    if "ModelBlessing" in outputs:
        blessed = bool(outputs["ModelBlessing"][-1].custom_properties["blessed"].int_value)
    for pushed in outputs.get("PushedModel", []):
        if pushed.custom_properties["pushed"].int_value:
            pushed_path = pushed.custom_properties["pushed_destination"].string_value
        elif "refused_reason" in pushed.custom_properties:
            refused = pushed.custom_properties["refused_reason"].string_value
    split, span_read = None, None
    for examples in outputs.get("Examples", []):
        if SPLIT_PROPERTY in examples.custom_properties:
            split = json.loads(examples.custom_properties[SPLIT_PROPERTY].string_value)
            span_read = artifact_span(examples)
    drift_accepted = "".join(
        anomalies.custom_properties[DRIFT_ACCEPTED_PROPERTY].string_value
        for anomalies in outputs.get("ExampleAnomalies", [])
        if DRIFT_ACCEPTED_PROPERTY in anomalies.custom_properties)
    data, anomalies = [], []
    if with_details and STATISTICS in artifact_uris:
        data = read_split_counts(artifact_uris[STATISTICS])
    if with_details and ANOMALIES in artifact_uris:
        anomalies = read_anomalies(artifact_uris[ANOMALIES])
    return RunResult(_run_name(run), components, metrics, blessed, failures, pushed_path, refused, split,
                     artifact_uris, started=run.create_time_since_epoch / 1000, data=data,
                     anomalies=anomalies, exec_properties=exec_properties, gate_note=note,
                     span_read=span_read, spans_used=spans_used, drift_accepted=drift_accepted)


def describe_split(split: Dict[str, Any]) -> str:
    """One line, e.g. 'random: 20% held out (seed 42)'."""
    method = split["method"]
    if method == "random":
        return f"random: {split['eval_fraction']:.0%} held out (seed {split['seed']})"
    if method == "time":
        cutoff = datetime.datetime.fromtimestamp(split["cutoff"], datetime.timezone.utc)
        return f"time: interactions from {cutoff:%Y-%m-%d %H:%M:%S} UTC on held out"
    return f"last_n: each user's newest {split['eval_per_user']} held out"
