"""The Trainer, handed only the transformed examples Transform materialised.

Given a window of several spans, Transform writes one transformed Examples
artifact per input Examples artifact: it replaces its one output artifact by
that many copies beneath it (TFX's
`executor_utils.MatchNumberOfTransformedExamplesArtifacts`). The IR-based
launchers (local, Kubeflow) publish the copies alone. TFX's older launchers
(Airflow) had already recorded the original as an output before the executor
ran, so they hand the Trainer it too: an artifact with no splits and no
files, on which TFX's Trainer fails ("Split does not exist over all example
artifacts: train"). `materialised` leaves it out, and only it.
"""

from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.components import Trainer
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs


def materialised(examples: List[types.Artifact]) -> List[types.Artifact]:
    """`examples` without the placeholders: artifacts with no split names whose folder
    holds another of the artifacts."""
    def placeholder(artifact: types.Artifact) -> bool:
        return not artifact.split_names and any(
            other.uri.startswith(artifact.uri.rstrip("/") + "/") for other in examples)
    return [artifact for artifact in examples if not placeholder(artifact)]


class SpanWindowTrainerExecutor(trainer_executor.GenericExecutor):
    """TFX's GenericExecutor (run_fn) on the materialised transformed examples."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.EXAMPLES_KEY
        input_dict = dict(input_dict, **{key: materialised(input_dict[key])})
        super().Do(input_dict, output_dict, exec_properties)


class SpanWindowTrainer(Trainer):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SpanWindowTrainerExecutor)
