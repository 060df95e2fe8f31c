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

With spans (components/span_window.py), it also gets the previous accepted
span's statistics and checks drift with TFDV's comparators: L-infinity on the
user and item id distributions, Jensen-Shannon divergence on the ratings',
with the bounds of `DriftBounds`. Drift beyond them raises `DataDriftError`,
naming the feature, the distance and the bound, unless the operator accepted
it (`DriftBounds.accept`); accepted drift is recorded on the anomalies
artifact (`DRIFT_ACCEPTED_PROPERTY`). The anomalies artifact also names the
Examples and statistics it passed, which is what makes a span accepted.
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
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import json_utils, writer_utils

from mtrec.components.span_window import EXAMPLES_ID_PROPERTY, STATISTICS_ID_PROPERTY, span_of
from mtrec.pipeline.runtime.errors import UserFacingError
from mtrec.trainer_module.features import ITEM_ID, RATING, USER_ID

CONSTRAINTS_KEY = "constraints"
DRIFT_KEY = "drift"  # exec property: JSON of DriftBounds
PREVIOUS_STATISTICS_KEY = "previous_statistics"  # input: the previous accepted span's
DRIFT_ACCEPTED_PROPERTY = "drift_accepted"  # custom property: the drift an operator let through
DRIFT_TYPES = (anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
               anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH)


class DataAnomaliesError(UserFacingError, ValueError):
    """The ExampleValidator found anomalies in the input data."""


class DataDriftError(UserFacingError, ValueError):
    """The new span moved further from the previous accepted one than the bounds allow."""


@dataclasses.dataclass(frozen=True)
class DriftBounds:
    """How far a new span's distributions may move from the previous accepted span's
    (1 switches a check off), and whether an operator accepted drift beyond them."""

    max_user_drift: float  # L-infinity distance of the user_id distributions
    max_item_drift: float  # L-infinity distance of the item_id distributions
    max_rating_drift: float  # Jensen-Shannon divergence of the rating distributions
    accept: bool = False

    def comparators(self) -> Dict[str, tuple]:
        """{feature: (comparator, bound)} for each check that is on."""
        checks = {USER_ID: ("infinity_norm", self.max_user_drift),
                  ITEM_ID: ("infinity_norm", self.max_item_drift),
                  RATING: ("jensen_shannon_divergence", self.max_rating_drift)}
        return {name: check for name, check in checks.items() if check[1] < 1}


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


def curate(schema: schema_pb2.Schema, constraints: Constraints,
           drift: Optional[DriftBounds] = None) -> tuple[schema_pb2.Schema, List[str]]:
    """A copy of `schema` with the constraints (and the drift comparators) applied, and
    the problems the schema itself shows (a required column missing, a rating column that
    is not numeric). The ids' value domains are cleared: the ids of one span are no
    constraint on the next."""
    curated = schema_pb2.Schema()
    curated.CopyFrom(schema)
    by_name = {feature.name: feature for feature in curated.feature}
    for name in (USER_ID, ITEM_ID):
        if name in by_name:
            by_name[name].ClearField("domain")
            if by_name[name].WhichOneof("domain_info") == "string_domain":
                by_name[name].ClearField("string_domain")
    for name, (comparator, bound) in (drift.comparators() if drift else {}).items():
        if name in by_name:
            getattr(by_name[name].drift_comparator, comparator).threshold = bound
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


_DRIFT_SETTINGS = {USER_ID: "drift.max_user_drift", ITEM_ID: "drift.max_item_drift",
                   RATING: "drift.max_rating_drift"}
_DISTANCE_NAMES = {anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "L-infinity distance",
                   anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
                       "Jensen-Shannon divergence"}


def drift_beyond_bounds(anomalies: anomalies_pb2.Anomalies, split: str,
                        previous_span: int) -> List[str]:
    """One line per feature whose distance from the previous span is above its bound,
    naming the feature, the distance, the bound and the setting that holds it."""
    found = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for measurement in info.drift_measurements:
            if measurement.value > measurement.threshold:
                name = _DISTANCE_NAMES.get(measurement.type, "distance")
                found.append(f"column {feature} ({split} split): {name} {measurement.value:.4g} "
                             f"from span {previous_span}, the previous accepted one, above "
                             f"{_DRIFT_SETTINGS.get(feature, 'its bound')} = "
                             f"{measurement.threshold:g}")
    return found


class Executor(validator_executor.Executor):
    """The stock ExampleValidator executor, on the curated schema, failing on anomalies
    and on drift from the previous accepted span."""

    _constraints: Constraints
    _drift: DriftBounds
    _previous: Dict[str, Any]  # split: the previous accepted span's statistics
    _previous_span: int
    _problems: List[str]
    _drifts: List[str]

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        self._constraints = Constraints(**json.loads(exec_properties[CONSTRAINTS_KEY]))
        self._drift = DriftBounds(**json.loads(exec_properties[DRIFT_KEY]))
        self._previous, self._previous_span = {}, -1
        for previous in input_dict.get(PREVIOUS_STATISTICS_KEY, []):
            self._previous_span = span_of(previous)
            for split in artifact_utils.decode_split_names(previous.split_names):
                self._previous[split] = stats_artifact_utils.load_statistics(previous,
                                                                             split).proto()
        self._problems, self._drifts = [], []
        result = super().Do(input_dict, output_dict, exec_properties)
        if self._problems:
            shown = "; ".join(dict.fromkeys(self._problems))  # each problem once
            raise DataAnomaliesError(f"{self._constraints.data_dir}: the ExampleValidator found "
                                     f"anomalies, nothing was trained or pushed: {shown}")
        drifts = "; ".join(dict.fromkeys(self._drifts))
        if drifts and not self._drift.accept:
            raise DataDriftError(
                f"{self._constraints.data_dir}: the new span drifted from the previous "
                f"accepted span, nothing was trained or pushed: {drifts}. If the change is "
                f"known, run again with --accept-drift (drift.accept = true)")
        statistics = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.STATISTICS_KEY])
        anomalies = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.ANOMALIES_KEY])
        anomalies.set_int_custom_property(STATISTICS_ID_PROPERTY, statistics.id)
        anomalies.set_int_custom_property(
            EXAMPLES_ID_PROPERTY, statistics.get_int_custom_property(EXAMPLES_ID_PROPERTY))
        if drifts:
            anomalies.set_string_custom_property(DRIFT_ACCEPTED_PROPERTY, drifts)
        (published,) = result.output_artifacts[standard_component_specs.ANOMALIES_KEY].artifacts
        published.CopyFrom(anomalies.mlmd_artifact)
        return result

    def _Validate(self, inputs: Dict[str, Any], outputs: Dict[str, Any]
                  ) -> anomalies_pb2.Anomalies:
        """The stock validation, on the curated schema and against the previous span."""
        import tensorflow_data_validation as tfdv

        split = os.path.basename(os.path.normpath(outputs[labels.SCHEMA_DIFF_PATH]))
        split = split.replace("Split-", "")
        previous = self._previous.get(split)
        schema, problems = curate(inputs[standard_component_specs.SCHEMA_KEY], self._constraints,
                                  self._drift if previous is not None else None)
        anomalies = tfdv.validate_statistics(
            statistics=inputs[standard_component_specs.STATISTICS_KEY], schema=schema,
            previous_statistics=previous)
        writer_utils.write_anomalies(
            os.path.join(outputs[labels.SCHEMA_DIFF_PATH], validator_executor.DEFAULT_FILE_NAME),
            anomalies)
        self._problems += problems
        self._drifts += drift_beyond_bounds(anomalies, split, self._previous_span)
        for feature, info in sorted(anomalies.anomaly_info.items()):
            other = [reason.description for reason in info.reason
                     if reason.type not in DRIFT_TYPES]
            if other or not info.reason:  # drift alone is in self._drifts
                details = "; ".join(other) or info.description
                self._problems.append(f"column {feature} ({split} split): {details}")
        if anomalies.HasField("dataset_anomaly_info"):
            details = "; ".join(r.description for r in anomalies.dataset_anomaly_info.reason)
            self._problems.append(f"the {split} split as a whole: {details}")
        return anomalies


class ValidatingExampleValidatorSpec(standard_component_specs.ExampleValidatorSpec):
    """The stock spec plus the constraints (JSON of `Constraints`)."""

    PARAMETERS = {**standard_component_specs.ExampleValidatorSpec.PARAMETERS,
                  CONSTRAINTS_KEY: ExecutionParameter(type=str),
                  DRIFT_KEY: ExecutionParameter(type=str)}
    INPUTS = {**standard_component_specs.ExampleValidatorSpec.INPUTS,
              PREVIOUS_STATISTICS_KEY: ChannelParameter(
                  type=standard_artifacts.ExampleStatistics, optional=True)}


class ValidatingExampleValidator(base_component.BaseComponent):
    """ExampleValidator whose anomalies stop the run (see the module docstring)."""

    SPEC_CLASS = ValidatingExampleValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, statistics: types.BaseChannel, schema: types.BaseChannel,
                 constraints: Constraints, drift: DriftBounds,
                 previous_statistics: Optional[types.BaseChannel] = None):
        super().__init__(spec=ValidatingExampleValidatorSpec(
            statistics=statistics, schema=schema, previous_statistics=previous_statistics,
            exclude_splits=json_utils.dumps([]),
            constraints=json.dumps(dataclasses.asdict(constraints), sort_keys=True),
            drift=json.dumps(dataclasses.asdict(drift), sort_keys=True),
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))
