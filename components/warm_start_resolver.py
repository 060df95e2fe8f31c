"""The Trainer's base model for a warm start: the latest blessed model that was not
trained on this run's Examples.

TFX's LatestBlessedModelStrategy would hand an unchanged re-run the model the
run before it trained, so the Trainer's inputs would differ, it would train
again from its own output and nothing after it would come from the cache.
Leaving out every model whose training read this run's Examples (found by
lineage in ML Metadata: Model <- Trainer <- transformed examples <- Transform
<- Examples) resolves a re-run to the same base as the run it repeats, and a
run on a new span to the model the previous span made.

Like the span window (span_window.py), it needs this run's Examples alone,
which the local runner gives; Airflow's launchers give every run's, and then
the newest stands for this run's. Kubeflow V2 compiles only TFX's own
strategies and keeps LatestBlessedModelStrategy (pipeline/pipeline.py).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common.resolver import ResolverStrategy

from mtrec.components.baseline_resolver import latest_blessed
from mtrec.components.span_window import span_of

EXAMPLES_KEY = "examples"  # this run's Examples (the anchor)
MODEL_KEY = "model"  # every Model in the pipeline; resolved: the base model
BLESSING_KEY = "model_blessing"  # every ModelBlessing in the pipeline


def _linked(store: mlmd.MetadataStore, artifact_ids: Iterable[int], produced_by: int,
            consumed_key: str) -> Set[int]:
    """The artifacts the executions that output `artifact_ids` read under
    `consumed_key` (`produced_by`: the Event type that ties the given artifacts to
    those executions)."""
    artifact_ids = list(artifact_ids)
    if not artifact_ids:
        return set()
    executions = {event.execution_id for event in store.get_events_by_artifact_ids(artifact_ids)
                  if event.type == produced_by}
    if not executions:
        return set()
    return {event.artifact_id for event in store.get_events_by_execution_ids(list(executions))
            if event.type == metadata_store_pb2.Event.INPUT and event.path.steps
            and event.path.steps[0].key == consumed_key}


def trained_on(store: mlmd.MetadataStore, model_id: int) -> Set[int]:
    """The ids of the ExampleGen Examples the model's Trainer read (through Transform)."""
    output = metadata_store_pb2.Event.OUTPUT
    transformed = _linked(store, [model_id], output, "examples")
    return _linked(store, transformed, output, "examples")


def latest_blessed_not_trained_on(store: mlmd.MetadataStore, examples: types.Artifact,
                                  models: List[types.Artifact], blessings: List[types.Artifact]
                                  ) -> Dict[str, List[types.Artifact]]:
    """The newest blessed model whose training did not read `examples`, as
    `latest_blessed` returns it."""
    return latest_blessed(models, blessings,
                          lambda model: examples.id not in trained_on(store, model.id))


class WarmStartModelStrategy(ResolverStrategy):
    """Resolves MODEL_KEY to the latest blessed Model not trained on this run's Examples."""

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        examples = input_dict.get(EXAMPLES_KEY, [])
        if not examples:
            return None
        this_run = max(examples, key=lambda artifact: (span_of(artifact), artifact.id))
        resolved = latest_blessed_not_trained_on(store, this_run, input_dict.get(MODEL_KEY, []),
                                                 input_dict.get(BLESSING_KEY, []))
        return {EXAMPLES_KEY: [], **resolved}
