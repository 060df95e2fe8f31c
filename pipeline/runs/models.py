"""`mtrec models`: every evaluated model and pushed version, with metrics and blessing.

Two sources, joined on the model's URI:
- ML Metadata under the pipeline root: each Evaluator execution's ModelBlessing
  names the model it judged (`current_model_id`); its ModelEvaluation holds the
  metrics (the newest evaluation of a model wins: a re-run judges it again
  against a newer baseline);
- the serving folder: each version's `assets.extra/push_info.json` names the
  model it was copied from (`serving/versions.py`), and a rollback's
  copy names the version it copied.
A version pushed from another pipeline root is listed without metrics.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Dict, List, Optional

from rich.table import Table

from mtrec.serving.versions import published_versions, read_push_info
from mtrec.trainer_module import features

_FORMAT_SERVING = "Format-Serving"  # the Trainer's SavedModel folder inside a Model artifact


@dataclasses.dataclass
class ModelRecord:
    model_uri: str  # the Trainer's Model artifact (its SavedModel is in Format-Serving/)
    evaluated: Optional[datetime.datetime]  # None: not in this pipeline root's ML Metadata
    metrics: Dict[str, float]
    blessed: Optional[bool]
    gate_failures: List[str]
    versions: List[int]  # pushed versions holding this model (a rollback adds one)


def _model_uri(path: Optional[str]) -> str:
    path = os.path.normpath(path or "")
    return os.path.dirname(path) if os.path.basename(path) == _FORMAT_SERVING else path


def _evaluated_models(metadata_path: str) -> Dict[str, ModelRecord]:
    """model URI -> its newest evaluation, from ML Metadata."""
    from ml_metadata.proto import metadata_store_pb2

    from mtrec.pipeline.runs.results import open_store, read_evaluation

    store = open_store(metadata_path)
    newest: Dict[int, metadata_store_pb2.Artifact] = {}
    for blessing in store.get_artifacts_by_type("ModelBlessing"):
        if "current_model_id" not in blessing.custom_properties:
            continue  # the Evaluator had no threshold to judge by
        model_id = blessing.custom_properties["current_model_id"].int_value
        if model_id not in newest or blessing.id > newest[model_id].id:
            newest[model_id] = blessing
    if not newest:
        return {}
    records = {}
    evaluation_type = store.get_artifact_type("ModelEvaluation").id
    for model_id, blessing in newest.items():
        (model,) = store.get_artifacts_by_id([model_id])
        events = store.get_events_by_artifact_ids([blessing.id])
        execution_ids = [e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        output_ids = [e.artifact_id for e in store.get_events_by_execution_ids(execution_ids)
                      if e.type == metadata_store_pb2.Event.OUTPUT]
        evaluations = [a for a in store.get_artifacts_by_id(output_ids)
                       if a.type_id == evaluation_type]
        metrics, failures = {}, []
        if evaluations:
            rows, failures, _ = read_evaluation(evaluations[-1].uri)
            metrics = {row.name: row.value for row in rows}
        records[_model_uri(model.uri)] = ModelRecord(
            model_uri=_model_uri(model.uri),
            evaluated=datetime.datetime.fromtimestamp(blessing.create_time_since_epoch / 1000),
            metrics=metrics, blessed=bool(blessing.custom_properties["blessed"].int_value),
            gate_failures=failures, versions=[])
    return records


def list_models(metadata_path: Optional[str], serving_base: str) -> List[ModelRecord]:
    """Every evaluated model (oldest first) and every pushed version's model."""
    records = (_evaluated_models(metadata_path)
               if metadata_path and os.path.exists(metadata_path) else {})
    for version in published_versions(serving_base):
        uri = _model_uri(read_push_info(os.path.join(serving_base, str(version))).get(
            "source_model") or f"(version {version}, source not recorded)")
        record = records.setdefault(uri, ModelRecord(uri, None, {}, True, [], []))
        record.versions.append(version)
    return sorted(records.values(), key=lambda r: (
        r.evaluated or datetime.datetime.max, min(r.versions, default=0)))


def models_table(records: List[ModelRecord], serving_base: str, top_k_metric: str) -> Table:
    """One row per model: versions, when evaluated, the gated metrics, blessing, serving,
    and the model's artifact (`Trainer/model/<execution id>` under the pipeline root; the
    full URI of a model from another pipeline root)."""
    versions = published_versions(serving_base)
    serving = versions[-1] if versions else None
    table = Table(title=f"Models ({serving_base}; serving: {serving or 'nothing'})",
                  title_justify="left")
    # column -> metric; most-popular is ranked with the user's seen items excluded
    numbers = {top_k_metric: top_k_metric,
               "most-popular": features.popular_top_k_metric_name(features.k_of_metric(top_k_metric)),
               "rmse": features.RMSE_METRIC, "biases' rmse": features.BIAS_RMSE_METRIC}
    for column in ("versions", "evaluated", *numbers, "blessed", "status", "model"):
        table.add_column(column, justify="right" if column in numbers else "left",
                         overflow="fold")
    for record in records:
        status = ("serving" if serving in record.versions
                  else "pushed earlier" if record.versions else "not pushed")
        def number(name: str, record: ModelRecord = record) -> str:
            return f"{record.metrics[name]:.4f}" if name in record.metrics else "–"

        blessed = {None: "–", True: "yes", False: "no"}[record.blessed]
        table.add_row(", ".join(map(str, record.versions)) or "–",
                      f"{record.evaluated:%Y-%m-%d %H:%M:%S}" if record.evaluated else "–",
                      *(number(name) for name in numbers.values()), blessed, status,
                      os.path.join(*record.model_uri.split(os.sep)[-3:]) if record.evaluated
                      else record.model_uri)
    return table
