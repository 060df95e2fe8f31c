"""The run configuration: one object, loaded from TOML and overridden by flags.

Every setting a run needs lives here, grouped by the part of the pipeline it
drives. Unknown keys, wrong types and out-of-range values raise `ConfigError`
with the offending key named.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import pathlib
import typing
from typing import Any, Dict, List, Mapping, Optional, Tuple

import tomli

from mtrec.data.canonical import unix_seconds
from mtrec.pipeline.errors import UserFacingError
from mtrec.trainer_module.features import (ITEM_SIDE_FEATURES, TOP_K_VALUES, USER_SIDE_FEATURES,
                                           top_k_metric_name)

SAMPLE_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "sample"
OBJECTIVES = ("joint", "retrieval", "rating")
SPLIT_METHODS = ("random", "time", "last_n")
BEAM_MODES = ("in_memory", "multi_processing")


class ConfigError(UserFacingError, ValueError):
    """A configuration value is missing, unknown, mistyped or out of range."""


@dataclasses.dataclass
class DataConfig:
    """Where the ratings are and how they are split."""

    ratings_dir: str = str(SAMPLE_DIR / "ratings")  # CsvExampleGen reads every matching file here
    file_pattern: str = "*.csv"
    items_file: str = str(SAMPLE_DIR / "items.csv")  # item_id,title[,...]; "" for none
    has_ratings: bool = True  # False for implicit-only data: retrieval only, no RMSE gate
    rating_min: float = 0.5  # ratings outside [rating_min, rating_max] stop the run
    rating_max: float = 5.0
    split: str = "random"  # random | time | last_n (components/split_example_gen.py)
    eval_fraction: float = 0.2  # random; time when split_cutoff is unset
    split_seed: int = 42  # random
    split_cutoff: str = ""  # time: ISO date or unix seconds; "" = newest eval_fraction is eval
    eval_per_user: int = 1  # last_n: each user's newest N interactions are eval

    def split_cutoff_seconds(self) -> Optional[int]:
        """split_cutoff as unix seconds (an ISO date without a zone is UTC); None if unset."""
        return unix_seconds(self.split_cutoff) if self.split_cutoff else None


@dataclasses.dataclass
class ModelConfig:
    """The multi-task model and its training."""

    objective: str = "joint"  # joint | retrieval | rating (loss-weight presets)
    retrieval_weight: Optional[float] = None  # overrides the preset's weight
    rating_weight: Optional[float] = None  # overrides the preset's weight
    embedding_dim: int = 64  # 32 -> 64: +0.004-0.01 top-100 on ML-100K (docs/benchmarks.md)
    rating_hidden_units: List[int] = dataclasses.field(default_factory=lambda: [64, 32])
    epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 0.1
    # On every id embedding and bias: without it both tasks overfit after ~5
    # epochs; 0.05 measured best on ML-100K and ml-latest-small (docs/benchmarks.md).
    l2_regularization: float = 0.05
    temperature: float = 1.0
    sampling_correction: bool = True  # logQ correction of in-batch negatives
    seed: int = 42
    item_features: List[str] = dataclasses.field(default_factory=list)  # subset of title, genres, timestamp
    user_features: List[str] = dataclasses.field(default_factory=list)  # subset of review_summary, timestamp

    def loss_weights(self) -> Tuple[float, float]:
        """(retrieval, rating) weights: the preset, then any explicit override."""
        # joint: rating at 0.1 beat 0.3 on both top-K and RMSE on ML-100K and
        # ml-latest-small (docs/benchmarks.md, `mtrec bench quality`).
        preset = {"joint": (1.0, 0.1), "retrieval": (1.0, 0.0), "rating": (0.0, 1.0)}[self.objective]
        retrieval = preset[0] if self.retrieval_weight is None else self.retrieval_weight
        rating = preset[1] if self.rating_weight is None else self.rating_weight
        return retrieval, rating


@dataclasses.dataclass
class GateConfig:
    """Evaluator thresholds: absolute bounds and allowed change against the baseline."""

    top_k_metric: str = "top_100_accuracy_seen_excluded"
    min_top_k_accuracy: float = 0.60
    max_top_k_accuracy_drop: float = 0.02  # vs the last blessed model
    # Ranking a held-out interaction scores the whole corpus, so ranking every
    # one costs interactions x items: quadratic in the data. Top-K is measured
    # on the held-out interactions of a fixed hash sample of at most this many
    # users (every user when there are fewer): linear, and exact on MovieLens.
    top_k_max_users: int = 20_000
    max_rmse: float = 0.90
    max_rmse_increase: float = 0.02  # vs the last blessed model


@dataclasses.dataclass
class ServingConfig:
    """Where blessed models are pushed and how many items the model returns."""

    serving_dir: str = "mtrec_output/serving"
    model_name: str = "recommender"
    max_k: int = 100
    min_index_recall: float = 0.95  # the Pusher refuses an index less accurate than this


@dataclasses.dataclass
class KubeflowConfig:
    """Kubeflow Pipelines v2 / Vertex AI Pipelines: the container every component runs in."""

    image: str = "mtrec:latest"  # built from the repository's Dockerfile and pushed to a registry


@dataclasses.dataclass
class AirflowConfig:
    """The Airflow DAG's schedule (pipeline/airflow_dag.py)."""

    schedule: str = "@daily"  # a cron expression or preset; "" for manual runs only
    start_date: str = "2024-01-01"  # ISO date; past runs are not caught up


@dataclasses.dataclass
class Config:
    """Everything one pipeline run needs."""

    pipeline_name: str = "mtrec"
    pipeline_root: str = "mtrec_output/pipeline"
    beam_args: List[str] = dataclasses.field(default_factory=list)
    beam_mode: str = "in_memory"  # DirectRunner: in_memory | multi_processing (see beam_options.py)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    gate: GateConfig = dataclasses.field(default_factory=GateConfig)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)
    kubeflow: KubeflowConfig = dataclasses.field(default_factory=KubeflowConfig)
    airflow: AirflowConfig = dataclasses.field(default_factory=AirflowConfig)

    @property
    def metadata_path(self) -> str:
        return str(pathlib.Path(self.pipeline_root) / "metadata.sqlite")

    def validate(self) -> "Config":
        """Checks ranges and cross-field rules; returns self."""
        _check(self.pipeline_name.replace("-", "").replace("_", "").isalnum(), "pipeline_name",
               f"must be letters, digits, '-' or '_', got {self.pipeline_name!r}")
        d = self.data
        _check(d.split in SPLIT_METHODS, "data.split", f"must be one of {SPLIT_METHODS}, got {d.split!r}")
        _check(0 < d.eval_fraction < 1, "data.eval_fraction", f"must be in (0, 1), got {d.eval_fraction}")
        _check(math.isfinite(d.rating_min) and math.isfinite(d.rating_max)
               and d.rating_min < d.rating_max, "data.rating_min",
               f"must be finite and below data.rating_max, got [{d.rating_min}, {d.rating_max}]")
        _check(d.eval_per_user >= 1, "data.eval_per_user", f"must be >= 1, got {d.eval_per_user}")
        try:
            d.split_cutoff_seconds()
        except ValueError as error:
            raise ConfigError(f"data.split_cutoff: expected unix seconds or an ISO date, got "
                              f"{d.split_cutoff!r}") from error
        m = self.model
        _check(m.objective in OBJECTIVES, "model.objective", f"must be one of {OBJECTIVES}, got {m.objective!r}")
        for name in ("retrieval_weight", "rating_weight"):
            value = getattr(m, name)
            _check(value is None or value >= 0, f"model.{name}", f"must be >= 0, got {value}")
        retrieval, rating = m.loss_weights()
        if not self.data.has_ratings:
            rating = 0.0
        _check(retrieval + rating > 0, "model", "the loss weights leave nothing to train "
               f"(retrieval={retrieval}, rating={rating}, data.has_ratings={self.data.has_ratings})")
        _check(1 <= m.embedding_dim <= 4096, "model.embedding_dim", f"must be in 1..4096, got {m.embedding_dim}")
        _check(all(u >= 1 for u in m.rating_hidden_units), "model.rating_hidden_units",
               f"must be positive layer sizes, got {m.rating_hidden_units}")
        _check(0 <= m.epochs <= 10_000, "model.epochs", f"must be in 0..10000, got {m.epochs}")
        _check(1 <= m.batch_size <= 1_000_000, "model.batch_size", f"must be in 1..1000000, got {m.batch_size}")
        _check(0 < m.learning_rate <= 10, "model.learning_rate", f"must be in (0, 10], got {m.learning_rate}")
        _check(m.l2_regularization >= 0, "model.l2_regularization", f"must be >= 0, got {m.l2_regularization}")
        _check(m.temperature > 0, "model.temperature", f"must be > 0, got {m.temperature}")
        for key, chosen, known in (("item_features", m.item_features, ITEM_SIDE_FEATURES),
                                   ("user_features", m.user_features, USER_SIDE_FEATURES)):
            _check(set(chosen) <= set(known) and len(set(chosen)) == len(chosen), f"model.{key}",
                   f"must be distinct names from {sorted(known)}, got {chosen}")
        g = self.gate
        valid_metrics = [top_k_metric_name(k, seen) for k in TOP_K_VALUES for seen in (False, True)]
        _check(g.top_k_metric in valid_metrics, "gate.top_k_metric",
               f"must be one of {valid_metrics}, got {g.top_k_metric!r}")
        _check(0 <= g.min_top_k_accuracy <= 1, "gate.min_top_k_accuracy",
               f"must be in [0, 1], got {g.min_top_k_accuracy}")
        _check(0 <= g.max_top_k_accuracy_drop <= 1, "gate.max_top_k_accuracy_drop",
               f"must be in [0, 1], got {g.max_top_k_accuracy_drop}")
        _check(100 <= g.top_k_max_users <= 1_000_000_000, "gate.top_k_max_users",
               f"must be in 100..1000000000, got {g.top_k_max_users}")
        _check(g.max_rmse > 0, "gate.max_rmse", f"must be > 0, got {g.max_rmse}")
        _check(g.max_rmse_increase >= 0, "gate.max_rmse_increase", f"must be >= 0, got {g.max_rmse_increase}")
        _check(1 <= self.serving.max_k <= 10_000, "serving.max_k", f"must be in 1..10000, got {self.serving.max_k}")
        try:
            datetime.datetime.fromisoformat(self.airflow.start_date)
        except ValueError as error:
            raise ConfigError(f"airflow.start_date: expected an ISO date, got "
                              f"{self.airflow.start_date!r}") from error
        _check(self.beam_mode in BEAM_MODES, "beam_mode",
               f"must be one of {BEAM_MODES}, got {self.beam_mode!r}")
        _check(bool(self.kubeflow.image.strip()), "kubeflow.image", "must name a container image")
        _check(0 <= self.serving.min_index_recall <= 1, "serving.min_index_recall",
               f"must be in [0, 1], got {self.serving.min_index_recall}")
        _check(bool(self.serving.model_name) and "/" not in self.serving.model_name,
               "serving.model_name", f"must be a non-empty name without '/', got {self.serving.model_name!r}")
        return self

    def trainer_settings(self) -> Dict[str, Any]:
        """The Trainer's custom_config (see trainer_module.trainer.TrainingSettings)."""
        retrieval, rating = self.model.loss_weights()
        return {
            "embedding_dim": self.model.embedding_dim,
            "retrieval_weight": retrieval,
            "rating_weight": rating if self.data.has_ratings else 0.0,
            "epochs": self.model.epochs,
            "batch_size": self.model.batch_size,
            "learning_rate": self.model.learning_rate,
            "l2_regularization": self.model.l2_regularization,
            "temperature": self.model.temperature,
            "sampling_correction": self.model.sampling_correction,
            "rating_hidden_units": list(self.model.rating_hidden_units),
            "max_k": self.serving.max_k,
            "top_k_max_users": self.gate.top_k_max_users,
            "seed": self.model.seed,
            "items_file": self.data.items_file,
            **self.side_features(),
        }

    def side_features(self) -> Dict[str, List[str]]:
        """The enabled side features: Transform's custom_config and part of the Trainer's."""
        return {"item_features": list(self.model.item_features),
                "user_features": list(self.model.user_features)}


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Checks `value` against a dataclass field type; ints are accepted for floats."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _coerce(value, inner, key)
    if origin in (list, List):
        (inner,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


def _update(instance: Any, values: Mapping[str, Any], prefix: str = "") -> None:
    """Sets dataclass fields from a nested mapping, rejecting unknown keys."""
    hints = typing.get_type_hints(type(instance))
    fields = {f.name for f in dataclasses.fields(instance)}
    for name, value in values.items():
        key = f"{prefix}{name}"
        if name not in fields:
            raise ConfigError(f"{key}: unknown setting (known: {', '.join(sorted(fields))})")
        current = getattr(instance, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: expected a [{key}] table, got {value!r}")
            _update(current, value, prefix=f"{key}.")
        else:
            setattr(instance, name, _coerce(value, hints[name], key))


def load_config(path: Optional[str | pathlib.Path] = None,
                overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Defaults, then the TOML file at `path`, then dotted-key `overrides` (e.g. 'model.epochs')."""
    config = Config()
    if path is not None:
        path = pathlib.Path(path)
        try:
            with path.open("rb") as handle:
                values = tomli.load(handle)
        except FileNotFoundError as error:
            raise ConfigError(f"{path}: config file not found") from error
        except tomli.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
        _update(config, values)
    nested: Dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        *sections, name = dotted.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[name] = value
    _update(config, nested)
    return config.validate()
