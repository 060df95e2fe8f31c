"""Spans and warm starts on real runs: the sample cut by time into three spans that
arrive one per run, with model.warm_start on.

1. span 1 arrives: the run reads it alone, trains from scratch (nothing was
   blessed before), and is blessed and pushed;
2. span 2 arrives: the run reads span 2 alone (ExampleGen), trains and evaluates
   on spans 2 and 1 (data.window_spans = 2), every record of both counted,
   warm-started from run 1's model for model.warm_start_epochs;
3. span 3 arrives with its ratings shifted to 1: the drift check against span 2
   stops the run before Transform, naming the column, the distance and the
   bound, and the served version stays run 2's;
4. the same with --accept-drift: it goes on, trains on spans 3 and 2 from run
   2's model, and the accepted drift is recorded and shown;
5. the same again: everything but the resolvers comes from the cache, since the
   warm start resolves to run 2's model as before.

`mtrec runs` then lists the spans of each run.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from span_data import write_spans

from mtrec.pipeline.config import metadata_path
from mtrec.pipeline.runs.results import RunResult, open_store, read_run
from mtrec.serving.versions import published_versions

pytestmark = pytest.mark.e2e  # runs the pipeline

MTREC = os.path.join(os.path.dirname(sys.executable), "mtrec")


@dataclasses.dataclass
class Run:
    exit_code: int
    output: str
    result: RunResult
    versions: list  # the serving folder's versions after the run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("spans")
    arriving = root / "arriving"
    sizes = write_spans(arriving)
    ratings = root / "ratings"
    ratings.mkdir()
    pipeline_root = root / "pipeline"

    def run(*extra: str) -> Run:
        # The orchestration is under test, not the model: 3 epochs, the naive margins open.
        done = subprocess.run(
            [MTREC, "run", "--data-dir", str(ratings), "--pipeline-root", str(pipeline_root),
             "--serving-dir", str(root / "serving"), "--epochs", "3",
             "--set", "data.file_pattern=span-{SPAN}/*.csv", "--set", "data.window_spans=2",
             "--set", "model.warm_start=true", "--set", "model.warm_start_epochs=2",
             "--set", "gate.min_lift_over_most_popular=-0.99",
             "--set", "gate.min_rmse_gain_over_biases=-0.99", *extra],
            capture_output=True, text=True, timeout=900)
        return Run(done.returncode, done.stdout + done.stderr,
                   read_run(metadata_path(str(pipeline_root))),
                   published_versions(str(root / "serving" / "recommender")))

    history = []
    for span in (1, 2, 3):
        os.rename(arriving / f"span-{span}", ratings / f"span-{span}")
        history.append(run())
    history.append(run("--accept-drift"))
    history.append(run("--accept-drift"))
    return root, sizes, history


def _transform_inputs(pipeline_root) -> list:
    """The Examples ids each Transform execution read, oldest first."""
    store = open_store(metadata_path(str(pipeline_root)))
    (transform_type,) = [t for t in store.get_execution_types() if "Transform" in t.name]
    executions = sorted(store.get_executions_by_type(transform_type.name), key=lambda e: e.id)
    return [sorted(event.artifact_id for event in store.get_events_by_execution_ids([e.id])
                   if event.type == event.INPUT and event.path.steps[0].key == "examples")
            for e in executions]


def test_the_first_span_is_read_alone_and_pushed(runs):
    root, _, (first, *_) = runs
    assert first.exit_code == 0, first.output
    assert (first.result.span_read, first.result.spans_used) == (1, [1])
    assert first.result.blessed and first.result.pushed_path
    assert "Spans: read span 1; trained and evaluated on span 1" in first.output
    trained = first.result.training_history()
    assert trained["warm_start"] is None and trained["epochs"] == 3


def test_the_second_run_reads_its_span_and_trains_on_the_window(runs):
    root, sizes, (first, second, *_) = runs
    assert second.exit_code == 0, second.output
    assert (second.result.span_read, second.result.spans_used) == (2, [2, 1])
    assert "Spans: read span 2; trained and evaluated on spans 2, 1" in second.output
    trained = second.result.training_history()
    assert trained["epochs"] == 2  # model.warm_start_epochs
    warm = trained["warm_start"]
    assert warm["base_model"].startswith(first.result.artifact_uris["Trainer.model"])
    assert warm["users_carried"] > 0 and warm["items_carried"] > 0
    assert warm["carried"] == ["embeddings", "biases", "mlp", "global_bias"]
    assert f"Warm start: {warm['users_carried']:,} users and" in second.output
    store = open_store(metadata_path(str(root / "pipeline")))
    examples = {artifact.id: artifact for artifact in store.get_artifacts_by_type("Examples")
                if "span" in artifact.custom_properties}
    # ExampleGen read span 2 alone: its records are span 2's rows, none of span 1's.
    by_span = {artifact.custom_properties["span"].int_value: artifact
               for artifact in examples.values()}
    for span, size in ((1, sizes[0]), (2, sizes[1])):
        counts = by_span[span].custom_properties
        assert counts["records_train"].int_value + counts["records_eval"].int_value == size
    # The Evaluator saw both spans' held-out interactions.
    eval_count = next(m.value for m in second.result.metrics if m.name == "example_count")
    assert eval_count == sum(by_span[span].custom_properties["records_eval"].int_value
                             for span in (1, 2))
    # Runs 1, 2 and 4 ran Transform; run 2's read spans 1 and 2.
    assert _transform_inputs(root / "pipeline")[1] == sorted(by_span[span].id for span in (1, 2))


def test_a_drifted_span_is_refused_before_transform_and_nothing_is_pushed(runs):
    root, _, (first, second, drifted, *_) = runs
    assert drifted.exit_code == 2, drifted.output
    assert ("column rating (train split): Jensen-Shannon divergence 1 from span 2, the "
            "previous accepted one, above drift.max_rating_drift = 0.1") in drifted.output
    assert "--accept-drift" in drifted.output
    assert "Traceback" not in drifted.output.split("mtrec run: error:")[-1]
    states = {c.component: c.state for c in drifted.result.components}
    assert states["ExampleValidator"] == "failed"
    assert "Transform" not in states and "Trainer" not in states
    assert drifted.result.spans_used == [] and drifted.result.pushed_path is None
    assert second.result.pushed_path and drifted.versions == second.versions


def test_accepted_drift_goes_on_and_is_recorded(runs):
    root, _, (first, second, drifted, accepted, _) = runs
    assert accepted.exit_code == 0, accepted.output
    assert accepted.result.spans_used == [3, 2]
    assert "drift.max_rating_drift = 0.1" in accepted.result.drift_accepted
    assert "Drift accepted (drift.accept)" in accepted.output
    # Two pushes before the refusal, one after it: the refused run pushed nothing.
    assert len(accepted.versions) == 3 and accepted.result.pushed_path
    warm = accepted.result.training_history()["warm_start"]
    assert warm["base_model"].startswith(second.result.artifact_uris["Trainer.model"])


def test_an_unchanged_rerun_of_a_warm_started_run_comes_from_the_cache(runs):
    root, _, (*_, accepted, again) = runs
    assert again.exit_code == 0, again.output
    states = {c.component: c.state for c in again.result.components}
    assert all(state == "cached" for name, state in states.items()
               if not name.endswith("_resolver")), states
    assert again.versions == accepted.versions


def test_runs_lists_the_spans_of_each_run(runs):
    root, _, _ = runs
    listing = subprocess.run([MTREC, "runs", "--pipeline-root", str(root / "pipeline")],
                             capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, COLUMNS="200"))
    assert listing.returncode == 0, listing.stderr
    lines = [line.split() for line in listing.stdout.splitlines() if line.startswith("20")]
    assert [line[1] for line in lines] == ["1", "2,1", "3", "3,2", "3,2"]
