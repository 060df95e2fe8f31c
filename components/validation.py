"""An ExampleValidator whose anomalies stop the run, against a curated schema.

The stock ExampleValidator writes anomalies to an artifact and lets the run go
on, so a file of 7s on a 1-5 scale would still be trained on and, if the gate
let it, pushed. This component keeps the stock executor (its statistics,
schema and anomalies artifacts) and changes two things:

- the schema it validates against is SchemaGen's inferred schema, curated
  with what the data must hold whatever it happens to hold: `user_id` and
  `item_id` (and `rating`, with ratings) present in every row, ratings
  numeric, within [data.rating_min, data.rating_max] and never NaN;
- any anomaly in any split raises `DataAnomaliesError` (a UserFacingError),
  one line naming the split, the column and TFDV's description, so the run
  fails here. Transform runs after this component (`create_pipeline` adds the
  dependency), so nothing downstream runs and nothing is pushed.

The checks before the run (pipeline/input_checks.py) name the file and row of
a local file's first bad row; this component is what stops remote data and
runs started by another orchestrator (Kubeflow, Airflow), where those checks
do not run. Statistics cannot name a row.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, List, Optional

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx import types
from tfx.components.example_validator import executor as validator_executor
from tfx.components.example_validator import labels
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.trainer_module.features import ITEM_ID, RATING, USER_ID

CONSTRAINTS_KEY = "constraints"


class DataAnomaliesError(UserFacingError, ValueError):
    """The ExampleValidator found anomalies in the input data."""


@dataclasses.dataclass(frozen=True)
class Constraints:
    """What every run's data must satisfy, beyond what SchemaGen inferred."""

    required: List[str]  # columns present in every row
    rating_min: Optional[float]  # None: the data has no ratings
    rating_max: Optional[float]
    data_dir: str  # named in the error message

    @classmethod
    def for_data(cls, data_dir: str, has_ratings: bool, rating_min: float,
                 rating_max: float) -> "Constraints":
        return cls(required=[USER_ID, ITEM_ID] + ([RATING] if has_ratings else []),
                   rating_min=rating_min if has_ratings else None,
                   rating_max=rating_max if has_ratings else None, data_dir=data_dir)


def curate(schema: schema_pb2.Schema, constraints: Constraints) -> tuple[schema_pb2.Schema,
                                                                         List[str]]:
    """A copy of `schema` with the constraints applied, and the problems the schema
    itself shows (a required column missing, a rating column that is not numeric)."""
    curated = schema_pb2.Schema()
    curated.CopyFrom(schema)
    by_name = {feature.name: feature for feature in curated.feature}
    problems = []
    for name in constraints.required:
        if name not in by_name:
            problems.append(f"column {name}: missing from the data")
            continue
        by_name[name].presence.min_fraction = 1.0
        by_name[name].presence.min_count = 1
    rating = by_name.get(RATING)
    if rating is not None and constraints.rating_min is not None:
        if rating.type == schema_pb2.FLOAT:
            rating.float_domain.min = constraints.rating_min
            rating.float_domain.max = constraints.rating_max
            rating.float_domain.disallow_nan = True
        elif rating.type == schema_pb2.INT:
            rating.int_domain.min = math.ceil(constraints.rating_min)
            rating.int_domain.max = math.floor(constraints.rating_max)
        else:
            problems.append("column rating: holds values that are not numbers")
    return curated, problems


class Executor(validator_executor.Executor):
    """The stock ExampleValidator executor, on the curated schema, failing on anomalies."""

    _constraints: Constraints
    _problems: List[str]

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        self._constraints = Constraints(**json.loads(exec_properties[CONSTRAINTS_KEY]))
        self._problems = []
        result = super().Do(input_dict, output_dict, exec_properties)
        if self._problems:
            shown = "; ".join(dict.fromkeys(self._problems))  # each problem once
            raise DataAnomaliesError(f"{self._constraints.data_dir}: the ExampleValidator found "
                                     f"anomalies, nothing was trained or pushed: {shown}")
        return result

    def _Validate(self, inputs: Dict[str, Any], outputs: Dict[str, Any]
                  ) -> anomalies_pb2.Anomalies:
        schema, problems = curate(inputs[standard_component_specs.SCHEMA_KEY], self._constraints)
        anomalies = super()._Validate({**inputs, standard_component_specs.SCHEMA_KEY: schema},
                                      outputs)
        split = os.path.basename(os.path.normpath(outputs[labels.SCHEMA_DIFF_PATH]))
        split = split.replace("Split-", "")
        self._problems += problems
        for feature, info in sorted(anomalies.anomaly_info.items()):
            details = "; ".join(reason.description for reason in info.reason) or info.description
            self._problems.append(f"column {feature} ({split} split): {details}")
        if anomalies.HasField("dataset_anomaly_info"):
            details = "; ".join(r.description for r in anomalies.dataset_anomaly_info.reason)
            self._problems.append(f"the {split} split as a whole: {details}")
        return anomalies


class ValidatingExampleValidatorSpec(standard_component_specs.ExampleValidatorSpec):
    """The stock spec plus the constraints (JSON of `Constraints`)."""

    PARAMETERS = {**standard_component_specs.ExampleValidatorSpec.PARAMETERS,
                  CONSTRAINTS_KEY: ExecutionParameter(type=str)}


class ValidatingExampleValidator(base_component.BaseComponent):
    """ExampleValidator whose anomalies stop the run (see the module docstring)."""

    SPEC_CLASS = ValidatingExampleValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, statistics: types.BaseChannel, schema: types.BaseChannel,
                 constraints: Constraints):
        super().__init__(spec=ValidatingExampleValidatorSpec(
            statistics=statistics, schema=schema, exclude_splits=json_utils.dumps([]),
            constraints=json.dumps(dataclasses.asdict(constraints), sort_keys=True),
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
