"""The run configuration: one object, loaded from TOML and overridden by flags.

Every setting a run needs lives here, grouped by the part of the pipeline it
drives, and each is documented once, on its field (`help`); `mtrec init`,
docs/configuration.md and `mtrec config show` are generated from these
fields. Unknown keys, wrong types and out-of-range values raise `ConfigError`
with the offending key named.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import pathlib
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import tomli

from mtrec.components.split_spec import SPLIT_METHODS, SplitSpec
from mtrec.data.canonical import unix_seconds
from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.trainer_module.features import (ITEM_SIDE_FEATURES, TOP_K_VALUES, USER_SIDE_FEATURES,
                                           top_k_metric_name)
from mtrec.trainer_module.settings import TrainingSettings

SAMPLE_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "sample"
OBJECTIVES = ("joint", "retrieval", "rating")
# (retrieval, rating) loss weights of each objective; see docs/benchmarks.md for
# how the joint weighting was chosen.
OBJECTIVE_WEIGHTS = {"joint": (1.0, 0.1), "retrieval": (1.0, 0.0), "rating": (0.0, 1.0)}
BEAM_MODES = ("in_memory", "multi_processing")
BEAM_RUNNERS = ("direct", "flink")
METADATA_FILE = "metadata.sqlite"
SPAN_SPECS = ("{SPAN}", "{YYYY}", "{MM}", "{DD}")  # TFX's span placeholders in a file pattern


class ConfigError(UserFacingError, ValueError):
    """A configuration value is missing, unknown, mistyped or out of range."""


def metadata_path(pipeline_root: str) -> str:
    """The ML Metadata SQLite file the local and Airflow runners keep under a pipeline root."""
    return str(pathlib.Path(pipeline_root) / METADATA_FILE)


def _quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def setting(default: Any = dataclasses.MISSING, *, help: str,
            factory: Optional[Callable[[], Any]] = None) -> Any:
    """A config field with its one description (read by config_file.py)."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class DataConfig:
    """Where the ratings are and how they are split."""

    ratings_dir: str = setting(str(SAMPLE_DIR / "ratings"), help=(
        "folder of ratings CSVs (user_id, item_id[, rating, timestamp, ...]); CsvExampleGen "
        "reads every file matching file_pattern; default: the embedded sample"))
    file_pattern: str = setting("*.csv", help=(
        "which files in ratings_dir to read; with TFX's span spec in it (span-{SPAN}/*.csv, "
        "or {YYYY}-{MM}-{DD}/*.csv) each run reads only the newest span: docs/pipeline.md"))
    window_spans: int = setting(1, help=(
        "spans each run trains and evaluates on: the newest span and the accepted spans "
        "before it, up to this many (with a span spec in file_pattern)"))
    items_file: str = setting(str(SAMPLE_DIR / "items.csv"), help=(
        "item_id,title[,genres] CSV, titles for recommendations; \"\" for none; "
        "default: the sample's items.csv"))
    has_ratings: bool = setting(True, help=(
        "false for implicit data (clicks, views): retrieval only, no RMSE gate"))
    rating_min: float = setting(0.5, help=(
        "lowest valid rating; a rating below it stops the run before any component"))
    rating_max: float = setting(5.0, help=(
        "highest valid rating; a rating above it stops the run before any component"))
    split: str = setting("random", help=(
        "how the eval split is held out: random | time | last_n "
        "(components/split_example_gen.py)"))
    eval_fraction: float = setting(0.2, help=(
        "share held out (random; time without split_cutoff)"))
    split_seed: int = setting(42, help="seed of the random split")
    split_cutoff: str = setting("", help=(
        "time: unix seconds or an ISO date (UTC); \"\" = hold out the newest eval_fraction"))
    eval_per_user: int = setting(1, help="last_n: each user's newest N interactions held out")

    def uses_spans(self) -> bool:
        """Whether file_pattern holds a span spec, so that each run reads one span."""
        return any(spec in self.file_pattern for spec in SPAN_SPECS)

    def split_cutoff_seconds(self) -> Optional[int]:
        """split_cutoff as unix seconds (an ISO date without a zone is UTC); None if unset."""
        return unix_seconds(self.split_cutoff) if self.split_cutoff else None

    def split_spec(self) -> SplitSpec:
        """The split policy ExampleGen applies."""
        return SplitSpec(method=self.split, eval_fraction=self.eval_fraction,
                         seed=self.split_seed, cutoff=self.split_cutoff_seconds(),
                         eval_per_user=self.eval_per_user)


@dataclasses.dataclass
class DriftConfig:
    """How far a new span may move from the previous accepted one (TFDV's comparators)."""

    max_user_drift: float = setting(0.5, help=(
        "L-infinity distance allowed between the user_id distributions of the new span and "
        "the previous one (the largest change in any one user's share); 1: no check"))
    max_item_drift: float = setting(0.05, help=(
        "L-infinity distance allowed between the item_id distributions; 1: no check"))
    max_rating_drift: float = setting(0.1, help=(
        "Jensen-Shannon divergence allowed between the rating distributions; 1: no check"))
    accept: bool = setting(False, help=(
        "an operator's yes to a known change: a run whose new span drifts beyond the bounds "
        "goes on, and the drift is recorded (`mtrec run --accept-drift`)"))


@dataclasses.dataclass
class ModelConfig:
    """The multi-task model and its training."""

    objective: str = setting("joint", help=(
        "loss-weight preset, (retrieval, rating): joint (1, 0.1) | retrieval (1, 0) | "
        "rating (0, 1)"))
    retrieval_weight: Optional[float] = setting(None, help=(
        "overrides the preset's retrieval loss weight"))
    rating_weight: Optional[float] = setting(None, help=(
        "overrides the preset's rating loss weight"))
    embedding_dim: int = setting(64, help="size of the user and item embeddings")
    rating_hidden_units: List[int] = setting(factory=lambda: [64, 32], help=(
        "rating MLP layer sizes"))
    epochs: int = setting(10, help="training epochs (0 trains nothing: useful to test the gate)")
    warm_start: bool = setting(False, help=(
        "start from the last blessed model: the embeddings and biases of every id in both "
        "vocabularies, and the rating head, are carried over; new ids start fresh"))
    warm_start_epochs: int = setting(3, help="training epochs of a warm-started run")
    max_examples_seen: int = setting(20_000_000, help=(
        "training budget: fewer epochs than `epochs` when they would see more examples "
        "than this (at least 1; 0: no budget), so that large data costs less per rating"))
    batch_size: int = setting(512, help="batch size, also the number of in-batch negatives")
    learning_rate: float = setting(0.1, help="Adagrad learning rate")
    l2_regularization: float = setting(0.05, help=(
        "L2 on the id embedding rows and rating biases a batch uses; without it both tasks "
        "overfit within a few epochs"))
    rating_holdout_share: float = setting(0.1, help=(
        "share of the rated training rows (at most 20,000) kept out of the rating loss, "
        "not out of retrieval, to fit how much of the rating head's learned correction "
        "each user takes; 0 trusts the correction as trained"))
    temperature: float = setting(1.0, help="softmax temperature of the retrieval task")
    sampling_correction: bool = setting(True, help="logQ correction of in-batch negatives")
    seed: int = setting(42, help="random seed (initialisation, shuffling)")
    item_features: List[str] = setting(factory=list, help=(
        f"item side features: any of {_quoted(ITEM_SIDE_FEATURES)}"))
    user_features: List[str] = setting(factory=list, help=(
        f"user side features: any of {_quoted(USER_SIDE_FEATURES)}"))

    def preset_weights(self) -> Tuple[float, float]:
        """(retrieval, rating) weights: the objective's preset, then any explicit override."""
        preset = OBJECTIVE_WEIGHTS[self.objective]
        retrieval = preset[0] if self.retrieval_weight is None else self.retrieval_weight
        rating = preset[1] if self.rating_weight is None else self.rating_weight
        return retrieval, rating


@dataclasses.dataclass
class GateConfig:
    """Evaluator thresholds: absolute bounds and allowed change against the baseline."""

    top_k_metric: str = setting("top_100_accuracy_seen_excluded", help=(
        "the top-K metric the gate uses, e.g. top_10_accuracy_seen_excluded; its K is "
        "capped at a fifth of the corpus for the comparison with most-popular"))
    min_lift_over_most_popular: float = setting(0.05, help=(
        "the model's top-K accuracy (seen excluded, at the gated K) must beat most-popular's "
        "on the same interactions by this relative margin (0.05: 5% more hits)"))
    min_rmse_gain_over_biases: float = setting(0.0, help=(
        "the model's RMSE must beat user + item biases' on the same interactions by this "
        "relative margin (bias_rmse / rmse - 1; 0: at least as good)"))
    min_top_k_accuracy: float = setting(0.0, help=(
        "absolute lower bound on the top-K metric; 0: none (the presets set one)"))
    max_top_k_accuracy_drop: float = setting(0.02, help=(
        "allowed drop against the last blessed model"))
    top_k_max_users: int = setting(20_000, help=(
        "top-K is measured on the held-out interactions of a fixed hash sample of at most "
        "this many users (every user when fewer), since ranking the whole corpus for each "
        "costs users x items"))
    max_rmse: float = setting(math.inf, help=(
        "absolute upper bound on RMSE; inf: none (the presets set one)"))
    max_rmse_increase: float = setting(0.02, help="allowed rise against the last blessed model")


@dataclasses.dataclass
class ServingConfig:
    """Where blessed models are pushed and how many items the model returns."""

    serving_dir: str = setting("mtrec_output/serving", help="where blessed models are pushed")
    model_name: str = setting("recommender", help="folder name under serving_dir")
    max_k: int = setting(100, help="items the model's recommend signatures return")
    min_index_recall: float = setting(0.95, help=(
        "the Pusher refuses a ScaNN index with lower recall@max_k against exact search"))


@dataclasses.dataclass
class KubeflowConfig:
    """Kubeflow Pipelines v2 / Vertex AI Pipelines: the container every component runs in."""

    image: str = setting("mtrec:latest", help=(
        "container image every component runs in on Kubeflow / Vertex, built from the "
        "repository's Dockerfile and pushed to a registry"))


@dataclasses.dataclass
class AirflowConfig:
    """The Airflow DAG's schedule (pipeline/runners/airflow_dag.py)."""

    schedule: str = setting("@daily", help=(
        "the Airflow DAG's schedule (cron or preset); \"\" for manual runs only"))
    start_date: str = setting("2024-01-01", help=(
        "the DAG's start date (ISO); past runs are not caught up"))


@dataclasses.dataclass
class FlinkConfig:
    """Apache Flink for the data components (beam_runner = "flink"): docs/orchestrators.md."""

    master: str = setting("localhost:8081", help=(
        "the Flink cluster's REST address: HOST:8081 for your own cluster, [local] for an "
        "embedded mini-cluster in the job server"))
    parallelism: int = setting(2, help="parallel tasks per stage (one per TaskManager slot)")
    worker_pool: str = setting("localhost:50000", help=(
        "the Python SDK worker pool the TaskManagers start workers from (Beam's EXTERNAL "
        "environment); each TaskManager host needs one"))
    start_cluster: bool = setting(True, help=(
        "when master is on localhost and no JobManager answers there, `mtrec run` starts a "
        "standalone cluster (a JobManager, task_managers TaskManagers, the worker pool) and "
        "stops it after the run"))
    task_managers: int = setting(2, help="TaskManagers of a cluster mtrec starts (one slot each)")
    cache_dir: str = setting("~/.cache/mtrec/flink", help=(
        "where `mtrec flink setup` puts the Flink distribution and the Beam job server jar"))
    job_server_jar: str = setting("", help=(
        "Beam's Flink job server jar; \"\" = the one `mtrec flink setup` built in cache_dir"))

    def cache_path(self) -> pathlib.Path:
        return pathlib.Path(self.cache_dir).expanduser()


@dataclasses.dataclass
class Config:
    """Everything one pipeline run needs."""

    pipeline_name: str = setting("mtrec", help=(
        "pipeline name in ML Metadata (letters, digits, '-', '_')"))
    pipeline_root: str = setting("mtrec_output/pipeline", help=(
        f"pipeline artifacts and ML Metadata ({METADATA_FILE})"))
    beam_args: List[str] = setting(factory=list, help=(
        "Apache Beam pipeline options for the data components"))
    beam_runner: str = setting("direct", help=(
        "the Beam runner of the data components: direct (in this process; beam_mode) | "
        "flink (a Flink cluster; [flink])"))
    beam_mode: str = setting("in_memory", help=(
        "local DirectRunner: in_memory (one process) | multi_processing (a worker process "
        "per core: the faster choice for large data; an earlier ExampleGen lost rows in "
        "this mode, which every boundary's count check now catches: docs/orchestrators.md)"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    drift: DriftConfig = dataclasses.field(default_factory=DriftConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    gate: GateConfig = dataclasses.field(default_factory=GateConfig)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)
    flink: FlinkConfig = dataclasses.field(default_factory=FlinkConfig)
    kubeflow: KubeflowConfig = dataclasses.field(default_factory=KubeflowConfig)
    airflow: AirflowConfig = dataclasses.field(default_factory=AirflowConfig)

    @property
    def metadata_path(self) -> str:
        return metadata_path(self.pipeline_root)

    def loss_weights(self) -> Tuple[float, float]:
        """The (retrieval, rating) weights a run trains with: the model's preset and
        overrides, with the rating task off when the data has no ratings."""
        retrieval, rating = self.model.preset_weights()
        return retrieval, (rating if self.data.has_ratings else 0.0)

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
        _check(1 <= d.window_spans <= 10_000, "data.window_spans",
               f"must be in 1..10000, got {d.window_spans}")
        _check(d.window_spans == 1 or d.uses_spans(), "data.window_spans",
               f"needs a span spec ({', '.join(SPAN_SPECS)}) in data.file_pattern, got "
               f"{d.file_pattern!r}")
        for key in ("max_user_drift", "max_item_drift", "max_rating_drift"):
            bound = getattr(self.drift, key)
            _check(0 < bound <= 1, f"drift.{key}", f"must be in (0, 1], got {bound}")
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
        retrieval, rating = self.loss_weights()
        _check(retrieval + rating > 0, "model", "the loss weights leave nothing to train "
               f"(retrieval={retrieval}, rating={rating}, data.has_ratings={self.data.has_ratings})")
        _check(1 <= m.embedding_dim <= 4096, "model.embedding_dim", f"must be in 1..4096, got {m.embedding_dim}")
        _check(all(u >= 1 for u in m.rating_hidden_units), "model.rating_hidden_units",
               f"must be positive layer sizes, got {m.rating_hidden_units}")
        _check(0 <= m.epochs <= 10_000, "model.epochs", f"must be in 0..10000, got {m.epochs}")
        _check(0 <= m.warm_start_epochs <= 10_000, "model.warm_start_epochs",
               f"must be in 0..10000, got {m.warm_start_epochs}")
        _check(m.max_examples_seen >= 0, "model.max_examples_seen",
               f"must be >= 0, got {m.max_examples_seen}")
        _check(1 <= m.batch_size <= 1_000_000, "model.batch_size", f"must be in 1..1000000, got {m.batch_size}")
        _check(0 < m.learning_rate <= 10, "model.learning_rate", f"must be in (0, 10], got {m.learning_rate}")
        _check(m.l2_regularization >= 0, "model.l2_regularization", f"must be >= 0, got {m.l2_regularization}")
        _check(0 <= m.rating_holdout_share <= 0.5, "model.rating_holdout_share",
               f"must be in [0, 0.5], got {m.rating_holdout_share}")
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
        for key, margin in (("min_lift_over_most_popular", g.min_lift_over_most_popular),
                            ("min_rmse_gain_over_biases", g.min_rmse_gain_over_biases)):
            _check(-1 < margin <= 10, f"gate.{key}", f"must be in (-1, 10], got {margin}")
        _check(g.max_rmse_increase >= 0, "gate.max_rmse_increase", f"must be >= 0, got {g.max_rmse_increase}")
        _check(1 <= self.serving.max_k <= 10_000, "serving.max_k", f"must be in 1..10000, got {self.serving.max_k}")
        try:
            datetime.datetime.fromisoformat(self.airflow.start_date)
        except ValueError as error:
            raise ConfigError(f"airflow.start_date: expected an ISO date, got "
                              f"{self.airflow.start_date!r}") from error
        _check(self.beam_mode in BEAM_MODES, "beam_mode",
               f"must be one of {BEAM_MODES}, got {self.beam_mode!r}")
        _check(self.beam_runner in BEAM_RUNNERS, "beam_runner",
               f"must be one of {BEAM_RUNNERS}, got {self.beam_runner!r}")
        f = self.flink
        _check(f.master == "[local]" or (":" in f.master and f.master.rsplit(":", 1)[1].isdigit()),
               "flink.master", f"must be HOST:PORT or [local], got {f.master!r}")
        _check(":" in f.worker_pool and f.worker_pool.rsplit(":", 1)[1].isdigit(),
               "flink.worker_pool", f"must be HOST:PORT, got {f.worker_pool!r}")
        _check(1 <= f.parallelism <= 10_000, "flink.parallelism",
               f"must be in 1..10000, got {f.parallelism}")
        _check(1 <= f.task_managers <= 64, "flink.task_managers",
               f"must be in 1..64, got {f.task_managers}")
        _check(bool(self.kubeflow.image.strip()), "kubeflow.image", "must name a container image")
        _check(0 <= self.serving.min_index_recall <= 1, "serving.min_index_recall",
               f"must be in [0, 1], got {self.serving.min_index_recall}")
        _check(bool(self.serving.model_name) and "/" not in self.serving.model_name,
               "serving.model_name", f"must be a non-empty name without '/', got {self.serving.model_name!r}")
        return self

    def trainer_settings(self) -> TrainingSettings:
        """What the Trainer trains with (its custom_config)."""
        retrieval, rating = self.loss_weights()
        return TrainingSettings(
            embedding_dim=self.model.embedding_dim,
            retrieval_weight=retrieval,
            rating_weight=rating,
            epochs=self.model.epochs,
            warm_start_epochs=self.model.warm_start_epochs,
            max_examples_seen=self.model.max_examples_seen,
            batch_size=self.model.batch_size,
            learning_rate=self.model.learning_rate,
            l2_regularization=self.model.l2_regularization,
            rating_holdout_share=self.model.rating_holdout_share,
            temperature=self.model.temperature,
            sampling_correction=self.model.sampling_correction,
            rating_hidden_units=tuple(self.model.rating_hidden_units),
            max_k=self.serving.max_k,
            top_k_max_users=self.gate.top_k_max_users,
            seed=self.model.seed,
            items_file=self.data.items_file,
            item_features=tuple(self.model.item_features),
            user_features=tuple(self.model.user_features),
        )

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
