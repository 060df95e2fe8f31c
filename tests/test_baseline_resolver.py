"""The Evaluator's baseline: the newest blessed model that is not the candidate."""

from __future__ import annotations

import pytest
from tfx.components.evaluator import constants
from tfx.types.standard_artifacts import Model, ModelBlessing

from mtrec.components.baseline_resolver import (BLESSING_KEY, CANDIDATE_KEY, MODEL_KEY,
                                                LatestBlessedOtherModelStrategy,
                                                latest_blessed_other_than)


def _model(artifact_id: int) -> Model:
    model = Model()
    model.id = artifact_id
    return model


def _blessing(artifact_id: int, model_id: int, blessed: bool) -> ModelBlessing:
    blessing = ModelBlessing()
    blessing.id = artifact_id
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model_id)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
    return blessing


MODELS = [_model(3), _model(7), _model(12)]
BLESSINGS = [_blessing(4, 3, True), _blessing(8, 7, True), _blessing(13, 12, False)]


def _ids(resolved):
    return {key: [artifact.id for artifact in artifacts] for key, artifacts in resolved.items()}


def test_the_newest_blessed_model_other_than_the_candidate():
    # A new candidate: the newest blessed model (7; 12 was refused).
    assert _ids(latest_blessed_other_than([_model(20)], MODELS, BLESSINGS)) == {
        MODEL_KEY: [7], BLESSING_KEY: [8]}
    # A re-run whose candidate is the blessed 7 compares it with 3, as when 7 was trained.
    assert _ids(latest_blessed_other_than([_model(7)], MODELS, BLESSINGS)) == {
        MODEL_KEY: [3], BLESSING_KEY: [4]}


def test_no_baseline_when_nothing_else_was_blessed():
    assert _ids(latest_blessed_other_than([_model(3)], MODELS[:1], BLESSINGS[:1])) == {
        MODEL_KEY: [], BLESSING_KEY: []}
    assert _ids(latest_blessed_other_than([_model(1)], [], [])) == {
        MODEL_KEY: [], BLESSING_KEY: []}


def test_the_strategy_keeps_the_candidate_key():
    resolved = LatestBlessedOtherModelStrategy().resolve_artifacts(
        None, {CANDIDATE_KEY: [_model(12)], MODEL_KEY: MODELS, BLESSING_KEY: BLESSINGS})
    assert _ids(resolved) == {CANDIDATE_KEY: [12], MODEL_KEY: [7], BLESSING_KEY: [8]}


def test_the_strategy_refuses_candidates_resolved_across_runs():
    # Airflow's launchers would hand it every model the Trainer ever made.
    with pytest.raises(ValueError, match="got 2: this orchestrator resolves the channel across"):
        LatestBlessedOtherModelStrategy().resolve_artifacts(
            None, {CANDIDATE_KEY: MODELS[:2], MODEL_KEY: MODELS, BLESSING_KEY: BLESSINGS})
