"""The Evaluator's baseline: the latest blessed model other than the candidate.

TFX's LatestBlessedModelStrategy resolves before the Trainer and returns the
latest blessed model whatever the Trainer then produces. After a blessed run,
an unchanged re-run therefore hands the Evaluator its own candidate as the
baseline: the Evaluator's inputs differ from the first run's, so it is not
cached, and it spends its time comparing a model with itself, most of an
unchanged re-run's time (measured: docs/benchmarks.md).

This strategy runs after the Trainer and leaves the candidate out. A re-run
that trains nothing new resolves the same baseline as the run that trained
the model, so the Evaluator and the Pusher come from the cache; a newly
trained model is compared with the latest blessed one, as before.

It needs the orchestrator to hand it this run's model alone, as the local
runner (TFX's IR-based launcher) does. Kubeflow V2 compiles only TFX's
built-in strategies into its artifact queries, and Airflow's launchers
resolve a Resolver's inputs across every run of the pipeline, so both keep
LatestBlessedModelStrategy; the strategy refuses more than one candidate
rather than silently leaving out every model.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.common.resolver import ResolverStrategy

CANDIDATE_KEY = "candidate"  # the Trainer's model in this run
MODEL_KEY = "model"  # every Model in the pipeline
BLESSING_KEY = "model_blessing"  # every ModelBlessing in the pipeline


def blessing_by_model(blessings: List[types.Artifact]) -> Dict[int, types.Artifact]:
    """{model id: its ModelBlessing} for the models the Evaluator blessed."""
    return {
        blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY):
            blessing
        for blessing in blessings
        if blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1}


def latest_blessed(models: List[types.Artifact], blessings: List[types.Artifact],
                   accept: Callable[[types.Artifact], bool]
                   ) -> Dict[str, List[types.Artifact]]:
    """{model: [the newest blessed model that `accept`s], model_blessing: [its blessing]};
    empty lists when there is none."""
    blessed = blessing_by_model(blessings)
    for model in sorted(models, key=lambda artifact: artifact.id, reverse=True):
        if model.id in blessed and accept(model):
            return {MODEL_KEY: [model], BLESSING_KEY: [blessed[model.id]]}
    return {MODEL_KEY: [], BLESSING_KEY: []}


def latest_blessed_other_than(candidates: List[types.Artifact], models: List[types.Artifact],
                              blessings: List[types.Artifact]
                              ) -> Dict[str, List[types.Artifact]]:
    """The newest blessed model not in candidates, as `latest_blessed` returns it."""
    excluded = {model.id for model in candidates}
    return latest_blessed(models, blessings, lambda model: model.id not in excluded)


class LatestBlessedOtherModelStrategy(ResolverStrategy):
    """Resolves the latest blessed Model that is not this run's candidate."""

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        candidates = input_dict.get(CANDIDATE_KEY, [])
        if len(candidates) > 1:
            raise ValueError(
                f"{type(self).__name__} needs this run's one model as {CANDIDATE_KEY!r}, got "
                f"{len(candidates)}: this orchestrator resolves the channel across runs; build "
                "the pipeline with baseline_excludes_candidate=False")
        resolved = latest_blessed_other_than(candidates,
                                             input_dict.get(MODEL_KEY, []),
                                             input_dict.get(BLESSING_KEY, []))
        return {CANDIDATE_KEY: list(candidates), **resolved}
