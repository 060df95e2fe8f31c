"""`TrainingSettings`: what the Trainer needs from the pipeline config.

TensorFlow-free, so the config can build it without importing the model.
`Config.trainer_settings()` is the one place the values are set; the pipeline
passes them to the Trainer as its `custom_config`, and `run_fn` reads them
back with `from_custom_config`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

_TUPLE_FIELDS = ("rating_hidden_units", "item_features", "user_features")


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The Trainer's settings. No defaults except the cache keys: a setting the
    config stops sending fails here rather than training on a stale default."""

    embedding_dim: int
    retrieval_weight: float
    rating_weight: float  # 0 when the data has no ratings (Config.loss_weights)
    epochs: int
    warm_start_epochs: int  # the epochs of a run that starts from the last blessed model
    max_examples_seen: int  # 0: no budget; else fewer epochs where `epochs` would see more
    batch_size: int
    learning_rate: float
    l2_regularization: float
    rating_holdout_share: float  # 0: no held-out ratings, the correction trusted as trained
    temperature: float
    sampling_correction: bool
    rating_hidden_units: Tuple[int, ...]
    max_k: int
    top_k_max_users: int  # the Evaluator ranks a hash sample of at most this many users
    seed: int
    items_file: str  # "" for none
    item_features: Tuple[str, ...]  # item tower side features (features.ITEM_SIDE_FEATURES)
    user_features: Tuple[str, ...]  # user tower side features (features.USER_SIDE_FEATURES)
    # Only part of TFX's cache key, so that edited code or an edited items file
    # re-runs the Trainer (pipeline/code_version.py).
    code_version: str = ""
    items_file_version: str = ""

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> "TrainingSettings":
        values = dict(custom_config or {})
        for name in _TUPLE_FIELDS:
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def epochs_for(self, num_examples: int, warm_start: bool = False) -> int:
        """Epochs to train on `num_examples` interactions: `epochs` (`warm_start_epochs`
        when starting from a base model), or fewer when that would see more than
        `max_examples_seen` examples (at least one).

        Large data needs fewer passes over it: the cost per million ratings stays
        flat as the data grows (the quality cost is in docs/benchmarks.md).
        """
        epochs = self.warm_start_epochs if warm_start else self.epochs
        if self.max_examples_seen <= 0 or num_examples <= 0 or epochs == 0:
            return epochs
        return max(1, min(epochs, round(self.max_examples_seen / num_examples)))

    def to_custom_config(self) -> Dict[str, Any]:
        """The settings as JSON-ready values (tuples become lists)."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}
