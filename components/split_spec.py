"""`SplitSpec`: how ExampleGen divides interactions into the train and eval splits.

TensorFlow-free, so the config can build and check it without importing TFX;
the proto conversions import what they need when called.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, Optional

from mtrec.trainer_module.features import ITEM_ID, TIMESTAMP, USER_ID

if TYPE_CHECKING:
    from tfx.proto import example_gen_pb2

SPLIT_METHODS = ("random", "time", "last_n")


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """How interactions are divided into the train and eval splits.

    The policy has no defaults here: the pipeline builds it from `DataConfig`
    (`DataConfig.split_spec`), the one place its values are set.
    """

    method: str  # one of SPLIT_METHODS
    eval_fraction: float  # random, and time when no cutoff is given
    seed: int  # random
    cutoff: Optional[int]  # time: unix seconds; None = the quantile of eval_fraction
    eval_per_user: int  # last_n
    user_column: str = USER_ID
    item_column: str = ITEM_ID
    timestamp_column: str = TIMESTAMP

    def __post_init__(self):
        if self.method not in SPLIT_METHODS:
            raise ValueError(f"split method must be one of {SPLIT_METHODS}, got {self.method!r}")

    def to_custom_config(self) -> "example_gen_pb2.CustomConfig":
        """The spec as ExampleGen's custom_config (a Struct packed in an Any)."""
        from google.protobuf import struct_pb2
        from tfx.proto import example_gen_pb2

        values = struct_pb2.Struct()
        values.update({k: v for k, v in dataclasses.asdict(self).items() if v is not None})
        config = example_gen_pb2.CustomConfig()
        config.custom_config.Pack(values)
        return config

    @classmethod
    def from_exec_properties(cls, exec_properties: Dict[str, Any]) -> "SplitSpec":
        """The spec ExampleGen's executor received."""
        from google.protobuf import json_format, struct_pb2
        from tfx.proto import example_gen_pb2
        from tfx.types import standard_component_specs
        from tfx.utils import proto_utils

        config = example_gen_pb2.CustomConfig()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY],
                                  config)
        values = struct_pb2.Struct()
        if not config.custom_config.Unpack(values):
            raise ValueError(f"ExampleGen custom_config is not a split spec: {config}")
        fields = json_format.MessageToDict(values)
        for name in ("seed", "cutoff", "eval_per_user"):  # Struct numbers are doubles
            if name in fields:
                fields[name] = int(fields[name])
        fields.setdefault("cutoff", None)  # to_custom_config leaves an unset cutoff out
        return cls(**fields)
