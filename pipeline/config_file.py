"""The config as a file: `mtrec init` writes a documented default, `mtrec
config show` prints the effective one.

Both are generated from the `Config` dataclasses, so a default is written in
one place only (config.py); `DESCRIPTIONS` documents each key, and a test
checks that every key has a description and that the file `init` writes
loads back to the defaults.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List

from mtrec.pipeline.config import Config

DESCRIPTIONS: Dict[str, str] = {
    "pipeline_name": "pipeline name in ML Metadata (letters, digits, '-', '_')",
    "pipeline_root": "pipeline artifacts and ML Metadata (metadata.sqlite)",
    "beam_args": "Apache Beam pipeline options for the data components",
    "beam_mode": "local DirectRunner: in_memory | multi_processing (all cores, but it "
                 "lost rows of a 10M-rating input: docs/benchmarks.md)",
    "data.ratings_dir": "folder of ratings CSVs (user_id, item_id[, rating, timestamp, ...]); "
                        "default: the embedded sample",
    "data.file_pattern": "which files in ratings_dir to read",
    "data.items_file": "item_id,title[,genres] CSV, titles for recommendations; \"\" for none; "
                       "default: the sample's items.csv",
    "data.has_ratings": "false for implicit data (clicks, views): retrieval only, no RMSE gate",
    "data.split": "random | time | last_n",
    "data.eval_fraction": "share held out (random; time without split_cutoff)",
    "data.split_seed": "seed of the random split",
    "data.split_cutoff": "time: unix seconds or an ISO date (UTC); \"\" = hold out the newest "
                         "eval_fraction",
    "data.eval_per_user": "last_n: each user's newest N interactions held out",
    "data.rating_min": "lowest valid rating; a rating below it stops the run before any component",
    "data.rating_max": "highest valid rating; a rating above it stops the run before any component",
    "model.objective": "loss-weight preset: joint (1, 0.1) | retrieval (1, 0) | rating (0, 1)",
    "model.retrieval_weight": "overrides the preset's retrieval loss weight",
    "model.rating_weight": "overrides the preset's rating loss weight",
    "model.embedding_dim": "size of the user and item embeddings",
    "model.rating_hidden_units": "rating MLP layer sizes",
    "model.epochs": "training epochs (0 trains nothing: useful to test the gate)",
    "model.batch_size": "batch size, also the number of in-batch negatives",
    "model.learning_rate": "Adagrad learning rate",
    "model.l2_regularization": "L2 on the embeddings",
    "model.temperature": "softmax temperature of the retrieval task",
    "model.sampling_correction": "logQ correction of in-batch negatives",
    "model.seed": "random seed (initialisation, shuffling)",
    "model.item_features": "item side features: any of \"title\", \"genres\", \"timestamp\"",
    "model.user_features": "user side features: any of \"review_summary\", \"timestamp\"",
    "gate.top_k_metric": "the top-K metric the gate uses, e.g. top_10_accuracy_seen_excluded",
    "gate.min_top_k_accuracy": "its lower bound",
    "gate.max_top_k_accuracy_drop": "allowed drop against the last blessed model",
    "gate.top_k_max_users": "top-K is measured on a fixed hash sample of at most this many "
                            "users (all users when fewer): its cost is users x items",
    "gate.max_rmse": "upper bound on RMSE",
    "gate.max_rmse_increase": "allowed rise against the last blessed model",
    "serving.serving_dir": "where blessed models are pushed",
    "serving.model_name": "folder name under serving_dir",
    "serving.max_k": "items the model's recommend signatures return",
    "serving.min_index_recall": "the Pusher refuses a ScaNN index with lower recall@max_k "
                                "against exact search",
    "kubeflow.image": "container image every component runs in on Kubeflow / Vertex",
    "airflow.schedule": "the Airflow DAG's schedule (cron or preset); \"\" for manual runs only",
    "airflow.start_date": "the DAG's start date (ISO)",
}

# Keys `init` leaves commented out: their defaults depend on the installation
# (the embedded sample's absolute path) or on another key (the preset).
_COMMENTED_OUT = {"data.ratings_dir", "data.items_file", "model.retrieval_weight",
                  "model.rating_weight"}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _sections(config: Config) -> List[tuple]:
    """[(section name or "", [(key, value), ...]), ...] in declaration order."""
    top, nested = [], []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            nested.append((field.name, [(f.name, getattr(value, f.name))
                                        for f in dataclasses.fields(value)]))
        else:
            top.append((field.name, value))
    return [("", top)] + nested


def dump(config: Config) -> str:
    """The effective config as TOML (unset optional keys as comments)."""
    lines = []
    for section, items in _sections(config):
        if section:
            lines += ["", f"[{section}]"]
        for key, value in items:
            lines.append(f"# {key} = (unset)" if value is None else f"{key} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def template() -> str:
    """The documented default config `mtrec init` writes."""
    lines = ["# mtrec run configuration. Every key is optional; a missing key keeps the",
             "# default shown. Command-line options override this file:",
             "#   mtrec run --config mtrec.toml --epochs 5 --set gate.max_rmse=0.95",
             "# `mtrec config show --config mtrec.toml` prints the effective config."]
    for section, items in _sections(Config()):
        if section:
            lines += ["", f"[{section}]"]
        for key, value in items:
            dotted = f"{section}.{key}" if section else key
            lines.append(f"# {DESCRIPTIONS[dotted]}")
            text = "(the preset)" if value is None else _toml_value(value)
            prefix = "# " if dotted in _COMMENTED_OUT else ""
            lines.append(f"{prefix}{key} = {text}")
    return "\n".join(lines) + "\n"
