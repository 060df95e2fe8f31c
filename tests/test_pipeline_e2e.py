"""End to end: the real pipeline on the embedded sample, three runs in a row.

1. a first run: every component runs, the model is blessed and pushed, and a
   fresh process loads it (after `import scann`, nothing else) and recommends;
2. the same run again: ML Metadata caching skips every component, the
   Evaluator included, and no duplicate version is pushed;
3. a deliberately broken configuration (zero training epochs): the gate
   refuses it, nothing is pushed, the served version stays byte-identical.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow_transform as tft
from tfx_bsl.public import tfxio
from tfx_bsl.tfxio import tf_example_record

from mtrec.benchmarks import baselines, quality, ranking
from mtrec.pipeline import cli
from mtrec.pipeline.runs import results
from mtrec.pipeline.config import Config, load_config
from mtrec.pipeline.runners.local import localize
from mtrec.pipeline.runs.results import RunResult, open_store, read_run
from mtrec.serving.versions import published_versions
from mtrec.trainer_module import trainer

pytestmark = pytest.mark.e2e  # runs the pipeline

COMPONENTS = ["CsvExampleGen", "StatisticsGen", "SchemaGen", "previous_span_statistics_resolver",
              "ExampleValidator", "span_window_resolver", "Transform", "Trainer",
              "latest_blessed_model_resolver", "Evaluator", "Pusher"]


@dataclasses.dataclass
class Run:
    exit_code: int
    config: Config
    result: RunResult
    output: str


def _run_pipeline(root, capsys, *extra) -> Run:
    argv = ["run", "--pipeline-root", str(root / "pipeline"),
            "--serving-dir", str(root / "serving"), *extra]
    exit_code = cli.main(argv)
    captured = capsys.readouterr()
    return _read_back(root, exit_code, captured.out + captured.err)


def _read_back(root, exit_code: int, output: str) -> Run:
    """A run under `root` (pipeline/ and serving/) as ML Metadata recorded it."""
    config = localize(load_config(overrides={"pipeline_root": str(root / "pipeline"),
                                             "serving.serving_dir": str(root / "serving")}))
    return Run(exit_code, config, read_run(config.metadata_path), output)


def _states(result: RunResult) -> dict[str, str]:
    return {c.component: c.state for c in result.components}


def _metric(result: RunResult, name: str) -> float:
    return next(row.value for row in result.metrics if row.name == name)


def _serving_base(config: Config) -> str:
    return os.path.join(config.serving.serving_dir, config.serving.model_name)


def _tree_digest(path: str) -> str:
    digest = hashlib.sha256()
    for file in sorted(glob.glob(os.path.join(path, "**"), recursive=True)):
        if os.path.isfile(file):
            digest.update(os.path.relpath(file, path).encode())
            with open(file, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def root(sample_run):
    """The session's sample run: its first run is this module's first run."""
    return sample_run.root


@pytest.fixture(scope="module")
def runs(root):
    """Runs are made lazily, in order, and shared by the tests below."""
    return {}


def _get_run(runs, name, root, capsys, *extra) -> Run:
    if name not in runs:
        runs[name] = _run_pipeline(root, capsys, *extra)
    return runs[name]


@pytest.fixture
def first(runs, sample_run):
    if "first" not in runs:
        runs["first"] = _read_back(sample_run.root, sample_run.exit_code, sample_run.output)
    return runs["first"]


@pytest.fixture
def second(first, runs, root, capsys):
    return _get_run(runs, "second", root, capsys)


@pytest.fixture
def degraded(second, runs, root, capsys):
    """The broken run, and a digest of every served version taken just before it."""
    if "degraded" not in runs:
        base = _serving_base(second.config)
        runs["served_before_degraded"] = {
            v: _tree_digest(os.path.join(base, str(v))) for v in published_versions(base)}
    return _get_run(runs, "degraded", root, capsys, "--epochs", "0")


# -- first run ----------------------------------------------------------------

def test_every_component_ran_and_wrote_its_artifacts(first):
    assert first.exit_code == 0, first.output
    assert _states(first.result) == {name: "ran" for name in COMPONENTS}
    store = open_store(first.config.metadata_path)
    by_type = collections.defaultdict(list)
    types = {t.id: t.name for t in store.get_artifact_types()}
    for artifact in store.get_artifacts():
        by_type[types[artifact.type_id]].append(artifact.uri)
    (examples,) = by_type["Examples"][:1]
    assert glob.glob(os.path.join(examples, "Split-train", "*.gz"))
    assert glob.glob(os.path.join(examples, "Split-eval", "*.gz"))
    assert glob.glob(os.path.join(by_type["ExampleStatistics"][0], "Split-*", "FeatureStats.pb"))
    assert os.path.exists(os.path.join(by_type["Schema"][0], "schema.pbtxt"))
    assert glob.glob(os.path.join(by_type["ExampleAnomalies"][0], "Split-*", "SchemaDiff.pb"))
    transform_graph = by_type["TransformGraph"][0]
    for vocabulary in ("user_id", "item_id"):
        assert os.path.exists(os.path.join(transform_graph, "transform_fn", "assets", vocabulary))
    assert os.path.exists(os.path.join(by_type["Model"][0], "Format-Serving", "saved_model.pb"))
    assert os.path.exists(os.path.join(by_type["ModelEvaluation"][0], "validations.tfrecord"))
    assert os.path.exists(os.path.join(by_type["ModelBlessing"][0], "BLESSED"))


def test_the_trainer_records_where_its_time_went(first):
    phases = first.result.training_history()["phase_seconds"]
    assert list(phases) == ["the vocabularies and the training split",
                            "biases, tables and the model", "fit", "rating correction weights",
                            "the export module and its index", "the index's recall check", "save"]
    assert phases["fit"] > 0 and min(phases.values()) >= 0
    (trainer_run,) = [c for c in first.result.components if c.component == "Trainer"]
    assert sum(phases.values()) <= trainer_run.seconds + 1  # rounded to 0.1 s each


def test_the_trainer_reads_every_transformed_training_record_as_tfxio_does(first):
    """The Trainer reads the transformed split with plain tf.data
    (trainer._read_interactions), not TFX's TFXIO dataset: the same records,
    every one ExampleGen wrote for training."""
    graph = tft.TFTransformOutput(first.result.artifact_uris["Transform.transform_graph"])
    pattern = os.path.join(first.result.artifact_uris["Transform.transformed_examples"],
                           "Split-train", "*")
    columns, _ = trainer._read_interactions([pattern], graph)
    parts = collections.defaultdict(list)
    for batch in tf_example_record.TFExampleRecord(
            file_pattern=[pattern], schema=graph.transformed_metadata.schema).TensorFlowDataset(
            tfxio.TensorFlowDatasetOptions(batch_size=1000, num_epochs=1, shuffle=False)):
        for name, tensor in batch.items():
            parts[name].append(np.reshape(tensor.numpy(), [-1]))
    expected, _ = trainer._in_canonical_order(
        {name: np.concatenate(values) for name, values in parts.items()}, {})
    (written,) = [counts.interactions for counts in first.result.data if counts.split == "train"]
    assert len(columns["user_index"]) == written
    assert sorted(columns) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(columns[name], values, err_msg=name)


def test_first_model_is_blessed_and_pushed(first):
    assert first.result.blessed is True
    assert first.result.gate_failures == []
    versions = published_versions(_serving_base(first.config))
    assert len(versions) == 1
    assert first.result.pushed_path == os.path.join(_serving_base(first.config), str(versions[0]))
    assert os.path.exists(os.path.join(first.result.pushed_path, "saved_model.pb"))
    for text in ("Gate: BLESSED", "top_100_accuracy_seen_excluded", "lift_over_most_popular",
                 ">= 0.05", "naive", "global_mean_rmse", "Pushed model:"):
        assert text in first.output
    popular = _metric(first.result, "most_popular_top_100_accuracy_seen_excluded")
    assert "top_100_accuracy_seen_excluded │ " in first.output
    assert f"│ {popular:.4f} │" in first.output  # beside the model's
    with open(os.path.join(first.result.pushed_path, "assets.extra", "index_quality.json")) as f:
        index_quality = json.load(f)
    assert index_quality["k"] == 100 and index_quality["users"] == 500
    assert index_quality["recall_at_k"] >= 0.95
    assert index_quality["scann_p50_ms"] > 0 and index_quality["exact_p50_ms"] > 0


@pytest.fixture
def split(first, runs):
    """The first run's train/eval split, as the quality benchmark reads it."""
    if "split" not in runs:
        runs["split"] = quality.read_split(first.result.artifact_uris[results.EXAMPLES])
    return runs["split"]


def test_model_clearly_beats_most_popular_on_the_same_split(first, split):
    sizes = len(split.user_ids), len(split.item_ids)
    most_popular = ranking.ranking_metrics(baselines.most_popular(split.train, sizes[1]),
                                           split.train, split.held_out, *sizes)
    assert 0.4 < most_popular["top_100_accuracy_seen_excluded"] < 0.7  # the planted skew
    model = _metric(first.result, "top_100_accuracy_seen_excluded")
    assert model > most_popular["top_100_accuracy_seen_excluded"] + 0.05, (model, most_popular)
    assert _metric(first.result, "rmse") < 0.9


def test_the_evaluator_s_naive_baselines_are_the_benchmark_s(first, split):
    """Most-popular, the training mean and the biases, scored inside the exported
    model for the Evaluator, agree with the quality benchmark's on the same split
    (every sample user is in the ranked sample)."""
    sizes = len(split.user_ids), len(split.item_ids)
    most_popular = ranking.ranking_metrics(baselines.most_popular(split.train, sizes[1]),
                                           split.train, split.held_out, *sizes)
    for k in (10, 100):
        name = f"top_{k}_accuracy_seen_excluded"
        assert _metric(first.result, "most_popular_" + name) == pytest.approx(
            most_popular[name], abs=1e-6)
    mean_rmse = ranking.rmse(baselines.global_mean(split.train, split.held_out), split.held_out)
    bias_rmse = ranking.rmse(baselines.biases(split.train, split.held_out, *sizes),
                             split.held_out)
    assert _metric(first.result, "global_mean_rmse") == pytest.approx(mean_rmse, abs=1e-4)
    assert _metric(first.result, "bias_rmse") == pytest.approx(bias_rmse, abs=1e-4)
    assert _metric(first.result, "rmse_gain_over_biases") == pytest.approx(
        bias_rmse / _metric(first.result, "rmse") - 1, abs=1e-3)


def test_benchmark_metrics_agree_with_the_evaluator_on_the_exported_model(first, split):
    """ranking.py (the quality benchmark's metrics) and TFMA measure the same model alike."""
    scorer = quality.exported_model_scorer(first.result.artifact_uris[results.MODEL], split)
    ours = ranking.ranking_metrics(scorer, split.train, split.held_out, len(split.user_ids),
                                   len(split.item_ids))
    for name in ("top_10_accuracy", "top_10_accuracy_seen_excluded", "top_100_accuracy",
                 "top_100_accuracy_seen_excluded"):
        assert ours[name] == pytest.approx(_metric(first.result, name), abs=1e-3), name
    with open(os.path.join(first.config.data.ratings_dir, "ratings.csv")) as handle:
        rows = sum(1 for _ in handle) - 1
    assert len(split.train.users) + len(split.held_out.users) == rows
    assert 0 < ours["ndcg_at_10"] < 1 and 0 < ours["recall_at_10"] < 1


def test_new_process_loads_pushed_model_with_only_scann(first, split):
    script = textwrap.dedent(f"""
        import json, os
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import scann  # the only requirement besides TensorFlow
        import tensorflow as tf
        model = tf.saved_model.load({first.result.pushed_path!r})
        users = tf.constant(["u0001", "u0002", "u0003"])
        approx = model.signatures["recommend"](user_id=users)
        exact = model.signatures["recommend_exact"](user_id=users)
        rating = model.signatures["predict_rating"](user_id=tf.constant(["u0001"]),
                                                    item_id=tf.constant(["i0002"]))
        print(json.dumps({{
            "items": [[i.decode() for i in row] for row in approx["item_ids"].numpy()],
            "exact": [[i.decode() for i in row] for row in exact["item_ids"].numpy()],
            "titles": [t.decode() for t in approx["titles"].numpy()[0]],
            "rating": float(rating["rating"].numpy()[0]),
            "signatures": sorted(model.signatures.keys()),
        }}))
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=300, check=True)
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"serving_default", "recommend", "recommend_including_seen", "recommend_exact",
            "predict_rating", "user_embedding", "item_embedding", "evaluate"} <= set(answer["signatures"])
    assert all(len(row) == 100 and len(set(row)) == 100 for row in answer["items"])
    assert all(title for title in answer["titles"])
    assert 1.0 <= answer["rating"] <= 5.5
    for user, row in zip(["u0001", "u0002", "u0003"], answer["items"]):
        seen = split.train.items[split.train.users == split.user_ids.index(user)]
        assert seen.size and not {split.item_ids[i] for i in seen} & set(row)  # seen excluded
    for approx, exact in zip(answer["items"], answer["exact"]):
        assert len(set(approx[:10]) & set(exact[:10])) >= 9  # the index agrees with exact search


def test_cli_recommend_in_a_new_process(first):
    completed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "mtrec"), "recommend", "--user", "u0001",
         "-k", "10", "--serving-dir", first.config.serving.serving_dir],
        capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    rows = [line for line in completed.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 10


# -- second run: nothing changed ------------------------------------------------

def test_rerun_is_served_from_cache(first, second):
    assert second.exit_code == 0, second.output
    states = _states(second.result)
    # The baseline leaves out the run's own model, so it resolves as in the
    # first run and the Evaluator and Pusher are cached too. (Resolvers always run.)
    assert all(states[name] == "cached" for name in COMPONENTS
               if not name.endswith("_resolver")), states
    for name in ("top_100_accuracy_seen_excluded", "rmse"):
        assert _metric(second.result, name) == _metric(first.result, name)
        assert next(row.baseline for row in second.result.metrics if row.name == name) is None
    assert second.result.blessed is True
    assert len(published_versions(_serving_base(second.config))) == 1  # no duplicate push


# -- third run: a broken model --------------------------------------------------

def test_degraded_model_is_not_blessed_and_serving_is_untouched(first, degraded, runs):
    assert degraded.exit_code == cli.EXIT_NOT_BLESSED, degraded.output
    assert _states(degraded.result)["Trainer"] == "ran"
    assert degraded.result.blessed is False
    assert degraded.result.pushed_path is None
    assert any("top_100_accuracy_seen_excluded" in failure
               for failure in degraded.result.gate_failures)
    assert "Gate: NOT BLESSED" in degraded.output
    # The refusal in words, with the naive baselines' numbers beside the model's.
    output = " ".join(degraded.output.split())  # undo the terminal's wrapping
    popular = _metric(degraded.result, "most_popular_top_100_accuracy_seen_excluded")
    assert f"is below most-popular's {popular:.4f}" in output
    # An untrained rating head is its anchor, the biases the gate compares with
    # (the refusal of an RMSE worse than them: test_gate_e2e.py).
    rmse, biases = (_metric(degraded.result, name) for name in ("rmse", "bias_rmse"))
    assert rmse == pytest.approx(biases, rel=1e-6)
    gain = next(row for row in degraded.result.metrics if row.name == "rmse_gain_over_biases")
    assert gain.value == pytest.approx(0.0, abs=1e-6) and gain.passed is True
    # A newly trained model is compared with the model the first run blessed.
    for name in ("top_100_accuracy_seen_excluded", "rmse"):
        baseline = next(row.baseline for row in degraded.result.metrics if row.name == name)
        assert baseline == pytest.approx(_metric(first.result, name))
    before = runs["served_before_degraded"]
    base = _serving_base(degraded.config)
    after = {v: _tree_digest(os.path.join(base, str(v))) for v in published_versions(base)}
    assert after == before  # the previously pushed version is intact, nothing was added


def test_similar_users_and_embedding_export(first, tmp_path):
    import csv

    import numpy as np
    import pyarrow.parquet as pq

    from mtrec.serving.embeddings_export import export_embeddings
    from mtrec.serving.loader import PushedModel

    model = PushedModel(first.result.pushed_path)
    (similar,) = model.similar_users(["u0001"], 5)
    assert len(similar) == 5 and "u0001" not in [user for user, _ in similar]
    assert [score for _, score in similar] == sorted((s for _, s in similar), reverse=True)
    user_ids, user_vectors = model.embedding_table("user")
    item_ids, item_vectors = model.embedding_table("item")
    dim = first.config.model.embedding_dim
    assert len(user_ids) == 600 and user_vectors.shape == (600, dim)
    assert len(item_ids) == item_vectors.shape[0] and item_vectors.shape[1] == dim
    for fmt in ("csv", "npy", "parquet"):
        assert export_embeddings(model, str(tmp_path / fmt), fmt) == {
            "user": 600, "item": len(item_ids)}
    with open(tmp_path / "csv" / "item_embeddings.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["id", "e0"] and len(rows) == len(item_ids) + 1
    np.testing.assert_allclose([float(v) for v in rows[1][1:]], item_vectors[0], rtol=1e-6)
    assert np.load(tmp_path / "npy" / "user_embeddings.npy").shape == (600, dim)
    assert (tmp_path / "npy" / "user_ids.txt").read_text().split() == user_ids
    table = pq.read_table(tmp_path / "parquet" / "user_embeddings.parquet")
    assert table.column("id").to_pylist() == user_ids
    np.testing.assert_allclose(table.column("embedding").to_pylist()[3], user_vectors[3], rtol=1e-6)
